"""Unrolled graphs of recurrent networks, in the style of Karpathy's "Unreasonable
Effectiveness of Recurrent Neural Networks" diagram: inputs at the bottom, hidden states in the
middle with the recurrent arrow ``z_{t-1} → z_t`` between steps, outputs at the top.

Each graph is one :class:`UnrolledGraph`; :func:`unrolled_graphs` draws several side by side in
rows, on one equal-aspect canvas so every panel's boxes have the same size.
"""

from dataclasses import dataclass, field

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

STEP = 1.3  # distance between time steps (data units)
BOX_W, BOX_H = 0.9, 0.6
Y_IN, Y_HID, Y_OUT = 0.0, 1.35, 2.7  # box centres of the three rows
TITLE_H = 1.45  # room above the outputs for a three-line title
MIN_PANEL_W = 4.9  # wide enough for a title line such as "test: 100.0% exact · 100.0% letters"
GAP = 1.0
INCH = 0.6  # inches per data unit

COLOURS = {  # (face, edge)
    "input": ("#f8d0d0", "#c0392b"),
    "hidden": ("#d4efd4", "#2e8b57"),
    "decoder": ("#e4d7f5", "#7d3c98"),
    "output": ("#d2e3f7", "#2c6fb7"),
    "fed": ("#fbeeee", "#d08a84"),
}
WRONG_EDGE = "#e67e22"


@dataclass(frozen=True)
class UnrolledGraph:
    """One network unrolled over ``len(inputs)`` steps.

    inputs: per step, the text of its input box (None: no input at that step).
    outputs: per step, the text of its output box (None: no output).
    title: up to three lines above the graph.
    decoder_from: steps from this one on are a decoder's: its hidden boxes get their own
        colour and its inputs are drawn as fed-back previous outputs (None: no decoder).
    initial: text of a box that sets the first hidden state ``z_0`` (drawn to the left).
    note: a small caption under the inputs (e.g. "T = 1: a feed-forward net").
    ok: per *shown* output, whether it is right (a wrong one, or one past the end of ``ok``,
        gets an orange edge); empty: all are right.
    input_width: width of the input boxes (a long input such as 16 bits needs more).
    """

    inputs: list
    outputs: list
    title: str = ""
    decoder_from: int | None = None
    initial: str | None = None
    ok: list = field(default_factory=list)
    note: str = ""
    input_width: float = BOX_W

    @property
    def steps(self) -> int:
        return len(self.inputs)

    def width(self) -> float:
        lead = STEP if self.initial is not None else 0.0
        body = (self.steps - 1) * STEP + max(BOX_W, self.input_width)
        return max(MIN_PANEL_W, lead + body)


def _box(ax, x, y, text, kind, width=BOX_W, dashed=False, wrong=False, size=9):
    face, edge = COLOURS[kind]
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - BOX_H / 2),
            width,
            BOX_H,
            boxstyle="round,pad=0,rounding_size=0.08",
            facecolor=face,
            edgecolor=WRONG_EDGE if wrong else edge,
            linewidth=2.4 if wrong else 1.3,
            linestyle="--" if dashed else "-",
            zorder=2,
        )
    )
    if text:
        family = "monospace" if len(text) > 5 else "DejaVu Sans"
        ax.text(x, y, text, ha="center", va="center", fontsize=size, family=family, zorder=3)


def _arrow(ax, start, end, colour="0.25", width=1.2):
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=11,
            color=colour,
            lw=width,
            shrinkA=0,
            shrinkB=0,
            zorder=1,
        )
    )


def draw_graph(ax, graph: UnrolledGraph, left: float, bottom: float) -> None:
    """Draw ``graph`` with its panel's lower-left corner at (left, bottom) in data units."""
    width = graph.width()
    lead = STEP if graph.initial is not None else 0.0
    used = lead + (graph.steps - 1) * STEP + max(BOX_W, graph.input_width)
    x0 = left + (width - used) / 2 + lead + max(BOX_W, graph.input_width) / 2  # step 0's centre
    half = BOX_H / 2
    dec = graph.decoder_from
    shown = iter(graph.ok)
    for t in range(graph.steps):
        x = x0 + t * STEP
        in_decoder = dec is not None and t >= dec
        hidden = "decoder" if in_decoder else "hidden"
        _box(ax, x, bottom + Y_HID, "", hidden)
        ax.text(
            x,
            bottom + Y_HID,
            f"z{_sub(t + 1)}",
            ha="center",
            va="center",
            fontsize=9,
            color=COLOURS[hidden][1],
            zorder=3,
        )
        if graph.inputs[t] is not None:
            kind = "fed" if in_decoder else "input"
            _box(ax, x, bottom + Y_IN, graph.inputs[t], kind, graph.input_width, in_decoder)
            _arrow(ax, (x, bottom + Y_IN + half), (x, bottom + Y_HID - half))
        if graph.outputs[t] is not None:
            right = next(shown, False) if graph.ok else True  # past the target: wrong
            _box(ax, x, bottom + Y_OUT, graph.outputs[t], "output", wrong=not right)
            _arrow(ax, (x, bottom + Y_HID + half), (x, bottom + Y_OUT - half))
        if t > 0:
            handover = dec is not None and t == dec and dec > 0  # encoder → decoder
            colour = COLOURS["decoder"][1] if handover else "0.25"
            _arrow(
                ax,
                (x - STEP + BOX_W / 2, bottom + Y_HID),
                (x - BOX_W / 2, bottom + Y_HID),
                colour,
                2.4 if handover else 1.2,
            )
    if graph.initial is not None:
        x = x0 - STEP
        _box(ax, x, bottom + Y_HID, graph.initial, "input")
        ax.text(
            x,
            bottom + Y_HID - half - 0.08,
            "class → z₀",
            ha="center",
            va="top",
            fontsize=8,
            color=COLOURS["input"][1],
        )
        _arrow(ax, (x + BOX_W / 2, bottom + Y_HID), (x0 - BOX_W / 2, bottom + Y_HID))
    if dec is not None and dec > 0:  # name the two halves under the inputs
        y = bottom + Y_IN - half - 0.12
        for first, last, name, kind in (
            (0, dec - 1, "encoder", "hidden"),
            (dec, graph.steps - 1, "decoder", "decoder"),
        ):
            a, b = x0 + first * STEP - BOX_W / 2, x0 + last * STEP + BOX_W / 2
            ax.plot([a, b], [y, y], color=COLOURS[kind][1], lw=2, solid_capstyle="butt")
            ax.text(
                (a + b) / 2,
                y - 0.08,
                name,
                ha="center",
                va="top",
                fontsize=9,
                color=COLOURS[kind][1],
            )
    if graph.note:
        ax.text(
            left + width / 2,
            bottom + Y_IN - half - 0.12,
            graph.note,
            ha="center",
            va="top",
            fontsize=9,
            color="0.3",
        )
    if graph.title:
        ax.text(
            left + width / 2,
            bottom + Y_OUT + half + 0.15,
            graph.title,
            ha="center",
            va="bottom",
            fontsize=10,
            linespacing=1.35,
        )


def _sub(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def unrolled_graphs(graphs: list[UnrolledGraph], rows: list[int] | None = None) -> Figure:
    """Panels of unrolled graphs, ``rows[i]`` of them in row ``i`` (default: one row), each
    row centred, with a legend of the box kinds underneath."""
    rows = rows or [len(graphs)]
    if sum(rows) != len(graphs):
        raise ValueError(f"rows={rows} place {sum(rows)} panels, but {len(graphs)} were given")
    row_h = Y_OUT + BOX_H / 2 + TITLE_H + 0.9  # + room under the inputs for encoder/decoder
    legend_h = 0.9
    widths = []
    start = 0
    for n in rows:
        widths.append(sum(g.width() for g in graphs[start : start + n]) + GAP * (n - 1))
        start += n
    total_w = max(widths) + 2 * 0.5
    total_h = row_h * len(rows) + legend_h
    fig = Figure(figsize=(total_w * INCH, total_h * INCH))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, total_w)
    ax.set_ylim(0, total_h)
    ax.set_axis_off()
    start = 0
    for r, n in enumerate(rows):
        bottom = total_h - (r + 1) * row_h + 0.9
        left = (total_w - widths[r]) / 2
        for g in graphs[start : start + n]:
            draw_graph(ax, g, left, bottom)
            left += g.width() + GAP
        start += n
    kinds = [
        ("input", "input x_t"),
        ("hidden", "hidden state z_t"),
        ("decoder", "hidden state z_t (decoder)"),
        ("output", "output y_t"),
    ]
    handles = [
        Patch(facecolor=COLOURS[k][0], edgecolor=COLOURS[k][1], label=label) for k, label in kinds
    ]
    handles += [
        Patch(
            facecolor=COLOURS["fed"][0],
            edgecolor=COLOURS["fed"][1],
            linestyle="--",
            label="previous output fed back (greedy)",
        ),
        Patch(facecolor="white", edgecolor=WRONG_EDGE, linewidth=2.4, label="wrong output"),
    ]
    ax.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        fontsize=9,
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
    )
    return fig
