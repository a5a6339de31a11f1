"""Validation curves of several trainings against wall time: which model is ahead after the same
number of seconds, whatever each one's speed."""

import math

from matplotlib.figure import Figure


def curves_by_time(
    curves: dict[str, list[tuple[float, float]]],
    unit: str = "nats/char",
    title: str = "",
    baseline: tuple[float, str] | None = None,
) -> Figure:
    """One line per training: ``curves`` maps a label to its ``(seconds, loss)`` points; the
    x axis is in minutes, the legend lists the labels best final loss first with that loss, and
    a right axis reads the loss in bits. ``baseline`` (value, label) is drawn dashed when it
    lies within reach of the curves (no more than 0.5 above their highest point)."""
    fig = Figure(figsize=(8.0, 4.8), layout="constrained")
    ax = fig.add_subplot()
    drawn = {label: points for label, points in curves.items() if points}
    order = sorted(drawn, key=lambda label: drawn[label][-1][1])
    for label in order:
        seconds, losses = zip(*drawn[label], strict=True)
        ax.plot(
            [s / 60 for s in seconds],
            losses,
            marker="o",
            ms=3.5,
            lw=1.8,
            label=f"{label}: {losses[-1]:.3f}",
        )
    values = [loss for points in drawn.values() for _, loss in points if math.isfinite(loss)]
    if baseline is not None and (not values or baseline[0] <= max(values) + 0.5):
        ax.axhline(
            baseline[0], ls="--", color="0.4", lw=1, label=f"{baseline[1]}: {baseline[0]:.3f}"
        )
    ax.set_xlabel("training wall time (minutes, evaluations included)")
    ax.set_ylabel(f"validation cross-entropy ({unit})")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(title=f"last point ({unit})", fontsize=9, title_fontsize=9)
    bits = ax.secondary_yaxis(
        "right", functions=(lambda n: n / math.log(2), lambda b: b * math.log(2))
    )
    bits.set_ylabel(f"bits{unit[unit.index('/') :] if '/' in unit else ''}")
    if title:
        ax.set_title(title, fontsize=10)
    return fig
