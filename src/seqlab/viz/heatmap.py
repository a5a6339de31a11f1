"""Word heatmaps of attention weights: an HTML page with each word shaded by its weight (as in
Lin et al. 2017's figures) and a PNG of the hops × words matrix.

The HTML is self-contained (no script, no external file) and every piece of text is escaped,
so a review holding ``<script>`` or ``&`` shows as written.
"""

import html
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure


@dataclass
class Heatmap:
    words: list[str]
    weights: np.ndarray  # (R, T): one row per hop, each summing to 1 over the words
    title: str  # e.g. "test review 12 · label positive · p(positive) = 0.97"
    note: str = ""  # e.g. "truncated to the first 400 tokens"

    @property
    def summed(self) -> np.ndarray:
        """The hops added up, (T,) — the paper's summed map."""
        return self.weights.sum(0)


def _shade(weight: float, top: float, rgb: tuple[int, int, int]) -> str:
    alpha = 0.0 if top <= 0 else min(1.0, weight / top)
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{alpha:.3f})"


def _words_html(words: list[str], weights: np.ndarray, rgb: tuple[int, int, int]) -> str:
    top = float(weights.max()) if len(weights) else 0.0
    spans = [
        f'<span style="background:{_shade(float(w), top, rgb)}" title="{w:.4f}">'
        f"{html.escape(word)}</span>"
        for word, w in zip(words, weights, strict=True)
    ]
    return " ".join(spans)


def heatmap_html(items: list[Heatmap], title: str, intro: str = "") -> str:
    """One page: for each text its summed map (red), then each hop's (blue); a word's shade is
    its weight over the largest weight of that row."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:1em auto;line-height:1.7}"
        "section{border-top:1px solid #ccc;padding:.4em 0}"
        "p.row{margin:.2em 0}span{padding:0 1px;border-radius:2px}"
        ".label{color:#555;font-size:.85em}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if intro:
        parts.append(f"<p>{html.escape(intro)}</p>")
    for item in items:
        parts.append(f"<section><h3>{html.escape(item.title)}</h3>")
        if item.note:
            parts.append(f'<p class="label">{html.escape(item.note)}</p>')
        parts.append('<p class="label">summed over the hops</p>')
        parts.append(f'<p class="row">{_words_html(item.words, item.summed, (220, 40, 40))}</p>')
        for k, row in enumerate(item.weights):
            parts.append(f'<p class="label">hop {k + 1}</p>')
            parts.append(f'<p class="row">{_words_html(item.words, row, (40, 90, 220))}</p>')
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def heatmap_figure(items: list[Heatmap], title: str = "") -> Figure:
    """One panel per text: rows hop 1..r and their sum, columns the words (best for texts of
    up to ~70 words)."""
    widths = [max(len(item.words), 8) for item in items]
    fig = Figure(
        figsize=(
            min(22, 2 + 0.19 * max(widths)),
            1 + sum(0.5 * (item.weights.shape[0] + 1) + 1.4 for item in items),
        ),
        layout="constrained",
    )
    axes = np.atleast_1d(fig.subplots(len(items), 1))
    for ax, item in zip(axes, items, strict=True):
        rows = np.vstack([item.weights, item.summed / max(item.weights.shape[0], 1)])
        image = ax.imshow(rows, aspect="auto", cmap="Reds", vmin=0)
        ax.set_xticks(range(len(item.words)), item.words, rotation=90, fontsize=7.5)
        labels = [f"hop {k + 1}" for k in range(item.weights.shape[0])] + ["sum / r"]
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_title(item.title, fontsize=9, loc="left")
        fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01, label="weight")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
