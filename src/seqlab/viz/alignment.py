"""Pictures of translation: alignment matrices α_ij (which source token each output token
looked at) and a score against source length for several models (Bahdanau et al. 2015, fig. 2)."""

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure


@dataclass
class Alignment:
    """One translated sentence: ``weights`` (T, S), row i = α_i over the S source tokens."""

    source: list[str]
    target: list[str]
    weights: np.ndarray
    title: str = ""


def _label(token: str) -> str:
    return "␣" if token == " " else token


def draw_alignment(ax, a: Alignment, colorbar_fig: Figure | None = None) -> None:
    """Source tokens along x, output tokens along y, darker = more weight (0 … 1)."""
    weights = np.asarray(a.weights, dtype=float)
    image = ax.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(a.source)))
    ax.set_xticklabels([_label(t) for t in a.source], rotation=90, fontsize=8)
    ax.set_yticks(range(len(a.target)))
    ax.set_yticklabels([_label(t) for t in a.target], fontsize=8)
    ax.tick_params(length=0)
    ax.set_xlabel("source", fontsize=8)
    ax.set_ylabel("output", fontsize=8)
    if a.title:
        ax.set_title(a.title, fontsize=9)
    if colorbar_fig is not None:
        colorbar_fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="α")


def alignment_figure(a: Alignment) -> Figure:
    """One alignment matrix, sized to its sentence."""
    width = min(16.0, 2.0 + 0.28 * len(a.source))
    height = min(14.0, 1.8 + 0.28 * len(a.target))
    fig = Figure(figsize=(width, height), layout="constrained")
    draw_alignment(fig.add_subplot(), a, colorbar_fig=fig)
    return fig


def alignment_grid(items: list[Alignment], cols: int = 2, title: str = "") -> Figure:
    """Several alignment matrices side by side."""
    cols = max(1, min(cols, len(items)))
    rows = math.ceil(len(items) / cols)
    widest = max(len(a.source) for a in items)
    tallest = max(len(a.target) for a in items)
    cell_w = min(9.0, 1.6 + 0.24 * widest)
    cell_h = min(8.0, 1.6 + 0.24 * tallest)
    fig = Figure(figsize=(cell_w * cols, cell_h * rows), layout="constrained")
    for k, a in enumerate(items):
        draw_alignment(fig.add_subplot(rows, cols, k + 1), a)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def score_by_length(
    curves: dict[str, list[tuple[float, float, int]]],
    xlabel: str,
    ylabel: str,
    title: str = "",
    trained_up_to: int | None = None,
) -> Figure:
    """One line per model: ``curves[label]`` = [(length, score, sentences), …]. Buckets with
    few sentences are drawn hollow; ``trained_up_to`` marks the longest training source."""
    fig = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for label, points in curves.items():
        if not points:
            continue
        xs, ys, ns = zip(*points, strict=True)
        (line,) = ax.plot(xs, ys, lw=2, label=label)
        few = [n < 20 for n in ns]
        ax.scatter(
            xs,
            ys,
            s=28,
            color=line.get_color(),
            facecolors=["none" if f else line.get_color() for f in few],
            zorder=3,
        )
    if trained_up_to is not None:
        ax.axvline(trained_up_to, ls="--", color="0.5", lw=1)
        ax.annotate(
            " longest training source",
            (trained_up_to, 1),
            xycoords=("data", "axes fraction"),
            va="top",
            fontsize=8,
            color="0.35",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, title="hollow: < 20 sentences", title_fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
