"""Pictures of visual attention in the style of Xu et al. 2015 (fig. 2 and 3): the image, then
the same image once per generated word with that word's attention map laid over it."""

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle


@dataclass
class Captioned:
    """One captioned image: ``image`` (P, P) in [0, 1]; ``words`` as generated (``</s>`` last
    when the caption finished); ``alignment`` (len(words), L) with L = grid², or None (no
    attention); per word, optionally, the ``box`` (x0, y0, x1, y1) of the object it names."""

    image: np.ndarray
    words: list[str]
    alignment: np.ndarray | None
    title: str = ""
    boxes: list[tuple[int, int, int, int] | None] = field(default_factory=list)


def upsample(weights: np.ndarray, size: int) -> np.ndarray:
    """α over a grid (L = g²,) -> a smooth (size, size) map (bilinear), for drawing."""
    grid = int(round(len(weights) ** 0.5))
    square = torch.as_tensor(np.asarray(weights, dtype=np.float32)).view(1, 1, grid, grid)
    return F.interpolate(square, size=(size, size), mode="bilinear", align_corners=False)[
        0, 0
    ].numpy()


def draw_overlay(ax, image: np.ndarray, weights, word: str, box=None) -> None:
    """The image in gray and, over it, the attention map scaled to its own maximum, or to four
    times the uniform weight 1/L when it is flatter than that (so no attention looks like
    a faint wash, not a full one)."""
    ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    if weights is not None:
        heat = upsample(weights, image.shape[0])
        scale = max(float(heat.max()), 4.0 / len(weights))
        ax.imshow(heat / scale, cmap="jet", alpha=0.45, vmin=0, vmax=1)
    if box is not None:
        x0, y0, x1, y1 = box
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="white",
                               lw=1.0, ls="--"))  # fmt: skip
    ax.set_title(word, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def attention_strips(rows: list[Captioned], title: str = "") -> Figure:
    """One row per image: the image with its caption, then one panel per word (dashed: the box
    of the object a noun names, where known)."""
    cols = 1 + max(len(r.words) for r in rows)
    fig = Figure(figsize=(1.45 * cols, 1.65 * len(rows) + 0.4), layout="constrained")
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for ax_row, row in zip(axes, rows, strict=True):
        ax_row[0].imshow(row.image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax_row[0].set_title(row.title or "image", fontsize=9)
        ax_row[0].set_xticks([])
        ax_row[0].set_yticks([])
        for k, ax in enumerate(ax_row[1:]):
            if k >= len(row.words):
                ax.axis("off")
                continue
            weights = None if row.alignment is None else row.alignment[k]
            box = row.boxes[k] if k < len(row.boxes) else None
            draw_overlay(ax, row.image, weights, row.words[k], box)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
