"""The unrolled-graph drawing: one box per input, hidden state and output, one arrow per edge,
and no text on top of other text."""

import itertools

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from seqlab.viz.topologies import UnrolledGraph, unrolled_graphs

GRAPHS = [
    UnrolledGraph(
        ["0110 1001 1100 0011"],
        ["8"],
        "one-to-one\nnumber → how many bits set\ntest: 100.0% exact",
        note="T = 1: a feed-forward net",
        input_width=3.5,
    ),
    UnrolledGraph(
        ["<s>", "t", "w"],
        ["t", "w", "o"],
        "one-to-many\ndigit → its name, spelled\ntest: 90.0% exact · 97.1% letters",
        decoder_from=0,
        initial="2",
        ok=[True, True, False],
    ),
    UnrolledGraph(
        list("3719"),
        [None, None, None, "0"],
        "many-to-one\ndigits → their sum mod 10\ntest: 99.0% exact",
    ),
    UnrolledGraph(
        list("10"),
        list("11"),
        "synced many-to-many\nbits → running parity\ntest: 100.0% exact · 100.0% frames",
    ),
    UnrolledGraph(
        ["3", "1", "<s>", "1", "3"],
        [None, None, "1", "3", "</s>"],
        "sequence-to-sequence\nreverse digits\ntest: 97.5% exact · 99.0% tokens",
        decoder_from=2,
    ),
]


def rendered(fig):
    """Draw ``fig`` on an Agg canvas; its renderer, to measure text extents."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def expected_counts(g: UnrolledGraph) -> tuple[int, int]:
    """(boxes, arrows) of one graph: inputs, hidden states, outputs and the initial box; an
    arrow up from every input and to every output, one between consecutive steps, one from
    the initial box."""
    inputs = sum(i is not None for i in g.inputs)
    outputs = sum(o is not None for o in g.outputs)
    extra = g.initial is not None
    return inputs + g.steps + outputs + extra, inputs + outputs + g.steps - 1 + extra


def test_every_box_and_arrow_is_drawn():
    fig = unrolled_graphs(GRAPHS, rows=[3, 2])
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    counts = [expected_counts(g) for g in GRAPHS]
    assert len(boxes) == sum(b for b, _ in counts)
    assert len(arrows) == sum(a for _, a in counts)
    # One wrong output, drawn with the orange edge.
    assert sum(b.get_linewidth() > 2 for b in boxes) == 1


def test_titles_say_the_measured_accuracy_and_no_text_overlaps():
    fig = unrolled_graphs(GRAPHS, rows=[3, 2])
    renderer = rendered(fig)
    texts = [t for t in fig.axes[0].texts if t.get_text().strip()]
    assert {t.get_text() for t in texts} >= {g.title for g in GRAPHS}
    frame = fig.bbox
    extents = [t.get_window_extent(renderer) for t in texts]
    for box, text in zip(extents, texts, strict=True):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, text.get_text()
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1, text.get_text()
    for (a, ta), (b, tb) in itertools.combinations(zip(extents, texts, strict=True), 2):
        assert not a.overlaps(b), (ta.get_text(), tb.get_text())
    legend = fig.axes[0].get_legend()
    assert "hidden state z_t (decoder)" in [t.get_text() for t in legend.get_texts()]


def test_box_labels_fit_inside_their_boxes():
    fig = unrolled_graphs(GRAPHS[:1], rows=[1])
    renderer = rendered(fig)
    ax = fig.axes[0]
    box = next(p for p in ax.patches if isinstance(p, FancyBboxPatch) and p.get_width() == 3.5)
    label = next(t for t in ax.texts if t.get_text() == "0110 1001 1100 0011")
    inner, outer = label.get_window_extent(renderer), box.get_window_extent(renderer)
    assert outer.x0 < inner.x0 and inner.x1 < outer.x1


def test_rows_must_place_every_panel():
    with pytest.raises(ValueError, match="rows=\\[2\\] place 2 panels, but 5"):
        unrolled_graphs(GRAPHS, rows=[2])
