"""Training curves."""

import math

from matplotlib.figure import Figure


def loss_curves(
    rows: list[dict],
    items_per_step: int,
    items: str = "items",
    title: str = "",
    baseline: tuple[float, str] | None = None,
) -> Figure:
    """Training and validation loss (nats per item, left axis; bits, right) against the number
    of items seen, from ``metrics.jsonl`` rows (``split`` "train" or "valid"); ``baseline``
    (value, label) draws a reference level as a dashed line."""
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for split, style in (
        ("train", {"lw": 1.0, "alpha": 0.75}),
        ("valid", {"marker": "o", "lw": 2}),
    ):
        points = [
            (r["step"] * items_per_step / 1e6, r["loss"])
            for r in rows
            if r.get("split") == split and isinstance(r.get("loss"), (int, float))
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            label = "training (mean per logging window)" if split == "train" else "validation"
            ax.plot(xs, ys, label=f"{label}: last {ys[-1]:.3f}", **style)
    if baseline is not None:
        ax.axhline(
            baseline[0], ls="--", color="0.4", lw=1, label=f"{baseline[1]}: {baseline[0]:.3f}"
        )
    ax.set_xlabel(f"{items} seen (millions)")
    ax.set_ylabel(f"cross-entropy (nats per {items.rstrip('s')})")
    ax.grid(alpha=0.3)
    ax.legend()
    finite = [
        r["loss"]
        for r in rows
        if isinstance(r.get("loss"), (int, float)) and math.isfinite(r["loss"])
    ]
    if finite:
        # Early losses dwarf the interesting part; show from a little above the validation start.
        low = min(finite)
        valid = [r["loss"] for r in rows if r.get("split") == "valid"]
        high = min(max(finite), max(valid) + 0.5 if valid else max(finite))
        if baseline is not None:
            high = max(high, baseline[0] + 0.05)
        ax.set_ylim(low - 0.05 * (high - low + 1e-9), high)
    bits = ax.secondary_yaxis(
        "right", functions=(lambda n: n / math.log(2), lambda b: b * math.log(2))
    )
    bits.set_ylabel("bits")
    if title:
        ax.set_title(title, fontsize=10)
    return fig
