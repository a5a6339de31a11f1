"""Figures of the keyword classifier: the class probabilities under each word of a sentence,
and where the decision falls against the deciding word."""

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure


@dataclass
class Strip:
    words: list[str]
    probs: np.ndarray  # (T, C): p_t(class) after reading word t
    deciding: int  # position of the deciding word
    label: int
    title: str = ""


def probability_strips(
    strips: list[Strip], classes: list[str], threshold: float, title: str = ""
) -> Figure:
    """One panel per sentence: p_t(class) of every class against the words read so far, the
    deciding word shaded and the decision threshold dashed."""
    rows = len(strips)
    fig = Figure(figsize=(11, 2.15 * rows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, 1))
    for ax, s in zip(axes, strips, strict=True):
        steps = np.arange(len(s.words))
        for c, name in enumerate(classes):
            lw = 2.4 if c == s.label else 1.2
            ax.plot(steps, s.probs[:, c], marker="o", ms=3, lw=lw, color=f"C{c}", label=name)
        ax.axvspan(s.deciding - 0.4, s.deciding + 0.4, color="gold", alpha=0.35, lw=0)
        ax.axhline(threshold, color="k", ls="--", lw=0.8)
        ax.set_xticks(steps, s.words, rotation=35, ha="right", fontsize=8.5)
        ax.set(ylim=(-0.03, 1.03), xlim=(-0.5, len(s.words) - 0.5), ylabel="p(house)")
        ax.set_title(s.title, fontsize=9, loc="left")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(classes), fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def decision_offsets(offsets: dict[str, list[int | None]], threshold: float) -> Figure:
    """Bars: the share of sentences of each kind whose prediction first reaches ``threshold``
    k words before (k < 0), at (0) or after (k > 0) the deciding word; None = never."""
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.add_subplot()
    found = [o for values in offsets.values() for o in values if o is not None]
    lo, hi = min([0, *found]), max([0, *found])
    xs = list(range(lo, hi + 1))
    width = 0.8 / max(len(offsets), 1)
    for k, (kind, values) in enumerate(offsets.items()):
        n = max(len(values), 1)
        shares = [100 * sum(v == x for v in values) / n for x in xs]
        never = 100 * sum(v is None for v in values) / n
        pos = [x + (k - (len(offsets) - 1) / 2) * width for x in xs]
        ax.bar(pos, shares, width=width, label=f"{kind} (n={len(values)}, never {never:.1f}%)")
    ax.set_xticks(xs)
    ax.set(
        xlabel=f"first step with p ≥ {threshold:g}, minus the deciding word's position",
        ylabel="% of test sentences",
        title="When the network decides",
    )
    ax.legend(fontsize=8)
    return fig
