"""Figure of the vanishing-gradient demonstration: how much of the last frame's error reaches
each earlier frame, across training, for each initialisation."""

import math

from matplotlib import colors
from matplotlib.figure import Figure

FLOOR = -30  # log10 share drawn for a gradient that underflowed to 0


def _shares(norms: list[float]) -> list[float]:
    first = norms[0]
    return [math.log10(max(n / first, 10**FLOOR)) if first > 0 else FLOOR for n in norms]


def gradient_history(histories: dict[str, dict], lag: int) -> Figure:
    """One row per training (``histories[name]`` holds ``steps``, ``norms`` with
    ``norms[i][k]`` the norm at step ``steps[i]``, ``k`` frames back from the error, and
    ``nmse``). Left: log10 of the norm relative to the last frame's, by frames back and step.
    Middle: at the start, middle and end. Right: the validation error."""
    fig = Figure(figsize=(12, 3.6 * len(histories)), layout="constrained")
    axes = fig.subplots(len(histories), 3, squeeze=False, width_ratios=[1.3, 1.2, 1])
    for (name, h), (ax, bx, cx) in zip(histories.items(), axes, strict=True):
        steps, rel = h["steps"], [_shares(ns) for ns in h["norms"]]
        back = len(rel[0])
        image = ax.imshow(
            rel,
            aspect="auto",
            origin="lower",
            cmap="viridis",
            norm=colors.Normalize(vmin=FLOOR, vmax=0),
            extent=(-0.5, back - 0.5, steps[0], steps[-1]),
            interpolation="nearest",
        )
        ax.axvline(lag, color="w", ls="--", lw=1)
        ax.set(
            xlabel="frames back from the error",
            ylabel="training step",
            title=f"{name} init: log10 share of the last frame's gradient",
        )
        fig.colorbar(image, ax=ax, label="log10 share")
        picks = sorted({0, len(steps) // 2, len(steps) - 1})
        for i, color in zip(picks, ("C3", "C1", "C0"), strict=False):
            bx.plot(
                range(back),
                [10**v for v in rel[i]],
                "o-",
                ms=3,
                color=color,
                label=f"step {steps[i]}",
            )
        bx.axvline(lag, color="k", ls="--", lw=0.8, label=f"the input the target copies ({lag})")
        bx.set(
            yscale="log",
            ylim=(10**FLOOR / 3, 10),
            xlabel="frames back from the error",
            ylabel="share of the last frame's",
            title="error reaching earlier frames",
        )
        bx.legend(fontsize=7)
        cx.plot(steps, h["nmse"], color="k")
        cx.set(
            xlabel="training step",
            ylabel="validation MSE / target variance",
            yscale="log",
            title="learning the task",
        )
    return fig
