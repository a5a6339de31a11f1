"""Per-head attention maps of a Transformer for one sentence: every layer's encoder
self-attention, decoder (masked) self-attention and cross-attention, one panel per head."""

import numpy as np
from matplotlib.figure import Figure

KINDS = (
    ("encoder", "encoder self-attention", "source", "source"),
    ("decoder", "decoder self-attention (causal)", "decoder input", "output"),
    ("cross", "cross-attention", "source", "output"),
)


def _label(token: str) -> str:
    return "␣" if token == " " else token


def head_maps_figure(maps: dict, source: list[str], inputs: list[str], outputs: list[str],
                     title: str = "") -> Figure:  # fmt: skip
    """``maps`` as :meth:`seqlab.models.Transformer.attention_maps` gives it for one sentence
    (each tensor (1, h, rows, cols)); ``source`` tokens (keys of the encoder and the cross
    attention), decoder ``inputs`` (BOS, y_1 …: keys of its self-attention) and ``outputs``
    (y_1 … EOS: the queries of the decoder, each row predicting that token). One row of panels
    per (kind, layer), one column per head; darker = more weight (0 … 1)."""
    rows = [(kind, layer, w[0].numpy()) for kind, *_ in KINDS for layer, w in enumerate(maps[kind])]
    heads = rows[0][2].shape[0]
    names = {kind: (name, x, y) for kind, name, x, y in KINDS}
    ticks = {"source": source, "decoder input": inputs, "output": outputs}
    longest = max(len(source), len(outputs))
    cell = min(4.2, 1.3 + 0.13 * longest)
    fig = Figure(figsize=(cell * heads + 0.6, cell * len(rows) + 0.8), layout="constrained")
    fontsize = 7 if longest <= 40 else 5
    for r, (kind, layer, weights) in enumerate(rows):
        name, xname, yname = names[kind]
        for h in range(heads):
            ax = fig.add_subplot(len(rows), heads, r * heads + h + 1)
            ax.imshow(np.asarray(weights[h], dtype=float), cmap="Greys", vmin=0, vmax=1,
                      aspect="auto", interpolation="nearest")  # fmt: skip
            xs, ys = ticks[xname], ticks[yname]
            ax.set_xticks(range(len(xs)))
            ax.set_xticklabels([_label(t) for t in xs], rotation=90, fontsize=fontsize)
            ax.set_yticks(range(len(ys)))
            ax.set_yticklabels([_label(t) for t in ys], fontsize=fontsize)
            ax.tick_params(length=0, pad=1)
            ax.set_title(f"{name}, layer {layer + 1}, head {h + 1}", fontsize=8)
            if h == 0:
                ax.set_ylabel(yname, fontsize=8)
            if r == len(rows) - 1 or kind != rows[r + 1][0]:
                ax.set_xlabel(xname, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
