"""Figures of the delay experiment: error per model and seed, error against delay, and how far
an error travels back through each network."""

import statistics

from matplotlib.figure import Figure

COLORS = {"lstm": "C0", "gru": "C2", "rnn-sigmoid": "C3", "rnn-tanh": "C1"}
FLOOR = 1e-5  # nmse below this is drawn at the floor of the log axis


def _color(name: str) -> str:
    return COLORS.get(name, "C7")


def headline(
    curves: dict[str, list[list[tuple[int, float]]]],
    results: list[dict],
    delay: int,
    threshold: float,
) -> Figure:
    """Left: validation nmse against training step, one line per seed. Right: the final nmse
    of every seed per model, with the 'solved' threshold."""
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    for name, runs in curves.items():
        for i, points in enumerate(runs):
            if points:
                steps, values = zip(*points, strict=True)
                ax.plot(
                    steps,
                    [max(v, FLOOR) for v in values],
                    color=_color(name),
                    lw=1.2,
                    alpha=0.8,
                    label=name if i == 0 else None,
                )
    ax.axhline(threshold, color="k", ls="--", lw=1, label=f"solved: nmse < {threshold:g}")
    ax.set(
        yscale="log",
        xlabel="training step",
        ylabel="validation MSE / target variance",
        title=f"delay {delay}: learning curves (one line per seed)",
    )
    ax.legend(fontsize=8)
    names = list(curves)
    for x, name in enumerate(names):
        values = [r["nmse"] for r in results if r["model"] == name and r["delay"] == delay]
        jitter = [x + 0.08 * (i - (len(values) - 1) / 2) for i in range(len(values))]
        bx.scatter(jitter, [max(v, FLOOR) for v in values], color=_color(name), zorder=3)
        solved = sum(v < threshold for v in values)
        bx.annotate(f"{solved}/{len(values)}", (x, 1.4), ha="center", fontsize=9)
    bx.axhline(threshold, color="k", ls="--", lw=1)
    bx.set_xticks(range(len(names)), names)
    bx.set(
        yscale="log",
        ylim=(FLOOR / 2, 3),
        xlim=(-0.6, len(names) - 0.4),
        title="final nmse per seed (seeds solved)",
    )
    return fig


def sweep(results: list[dict], threshold: float) -> Figure:
    """Median nmse over seeds against the delay, per model; bars span the seeds' range."""
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    names = list(dict.fromkeys(r["model"] for r in results))
    for name in names:
        per: dict[int, list[float]] = {}
        for r in results:
            if r["model"] == name:
                per.setdefault(r["delay"], []).append(max(r["nmse"], FLOOR))
        delays = sorted(per)
        med = [statistics.median(per[d]) for d in delays]
        low = [m - min(per[d]) for m, d in zip(med, delays, strict=True)]
        high = [max(per[d]) - m for m, d in zip(med, delays, strict=True)]
        ax.errorbar(
            delays, med, yerr=[low, high], color=_color(name), marker="o", capsize=3, label=name
        )
    ax.axhline(threshold, color="k", ls="--", lw=1, label=f"solved: nmse < {threshold:g}")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="delay k (frames)",
        ylabel="validation MSE / target variance",
        title="error against delay (median over seeds, bars: min to max)",
    )
    delays = sorted({r["delay"] for r in results})
    ax.set_xticks(delays, [str(d) for d in delays])
    ax.minorticks_off()
    ax.legend(fontsize=8)
    return fig


def error_flow(flows: dict[str, dict], delay: int) -> Figure:
    """Left: gradient norm at each frame of the error at the last frame, relative to the last
    frame's, against frames back. Right: the LSTM's cell path ∏ f per unit."""
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax, bx = fig.subplots(1, 2)
    lowest = 1.0
    for name, f in flows.items():
        for key, style, label in (("pre_activation", "-", "‖∂E/∂A_t‖"), ("cell", ":", "‖∂E/∂c_t‖")):
            if key not in f:
                continue
            norms = f[key][::-1]  # frames back: 0 = the last frame
            rel = [max(n / norms[0], 1e-30) if norms[0] else 1e-30 for n in norms]
            lowest = min(lowest, *rel)
            ax.plot(
                range(len(rel)), rel, style, color=_color(name), lw=1.6, label=f"{name} {label}"
            )
    ax.axvline(delay, color="k", lw=0.8, ls="--")
    bottom = max(lowest / 5, 1e-30)
    ax.annotate(
        f"the input the last\nframe must recall\n({delay} back)",
        (delay, bottom * 2),
        xytext=(4, 0),
        textcoords="offset points",
        fontsize=8,
    )
    ax.set(
        yscale="log",
        ylim=(bottom, 10),
        xlabel="frames back from the error",
        ylabel="gradient norm / its value at the last frame",
        title="how far the last frame's error reaches (trained models)",
    )
    ax.legend(fontsize=7)
    path = flows.get("lstm", {}).get("cell_path")
    if path:
        for unit in path:
            back = unit[::-1]
            bx.plot(range(len(back)), back, color="C0", lw=1, alpha=0.7)
        bx.axvline(delay, color="k", lw=0.8, ls="--")
        bx.set(
            yscale="log",
            xlabel="frames back from the last frame",
            ylabel="∏ f over those frames (batch mean)",
            title="LSTM cell path ∏ f_s, one line per unit",
        )
    else:
        bx.set_axis_off()
        bx.text(0.5, 0.5, "no LSTM in this run", ha="center", transform=bx.transAxes)
    return fig
