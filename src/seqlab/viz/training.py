"""Loss against optimiser step for one training, from its ``metrics.jsonl`` rows: the curve the
gallery shows for every run whatever the experiment (the experiments' own figures may plot
against items seen, or not at all)."""

import math

from matplotlib.figure import Figure

SPLITS = {"train": "training", "valid": "validation"}


def loss_points(rows: list[dict], split: str) -> list[tuple[int, float]]:
    """``(step, loss)`` of the rows of ``split`` ("train" or "valid") whose loss is a finite
    number (a diverged run logs ``"nan"`` as a string), in the order they were logged."""
    return [
        (r["step"], float(r["loss"]))
        for r in rows
        if r.get("split") == split
        and isinstance(r.get("step"), (int, float))
        and isinstance(r.get("loss"), (int, float))
        and not isinstance(r["loss"], bool)
        and math.isfinite(r["loss"])
    ]


def loss_by_step(rows: list[dict], title: str = "") -> Figure:
    """Training loss (a line) and validation loss (dots) against the step, one small figure.
    The loss axis is logarithmic when the losses span more than a factor of 30 (a task that is
    learnt drops by orders of magnitude, and a linear axis then hides everything after the
    drop). ``rows`` must hold at least one finite loss (see :func:`loss_points`)."""
    series = {split: loss_points(rows, split) for split in SPLITS}
    losses = [loss for points in series.values() for _, loss in points]
    if not losses:
        raise ValueError("no finite loss in these metrics rows: nothing to plot")
    fig = Figure(figsize=(4.8, 3.0), layout="constrained")
    ax = fig.add_subplot()
    styles = {"train": {"lw": 1.2, "alpha": 0.8}, "valid": {"marker": "o", "ms": 3.5, "lw": 1.5}}
    for split, points in series.items():
        if points:
            steps, values = zip(*points, strict=True)
            label = f"{SPLITS[split]}: last {values[-1]:.4g}"
            ax.plot(steps, values, label=label, **styles[split])
    if min(losses) > 0 and max(losses) / min(losses) > 30:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return fig
