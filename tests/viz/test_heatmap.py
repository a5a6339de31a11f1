"""Word heatmaps: the HTML page escapes every text and shades words by weight; the figure."""

import numpy as np

from seqlab.viz.heatmap import Heatmap, heatmap_figure, heatmap_html


def test_html_escapes_text_and_shades_the_heaviest_word_fully():
    item = Heatmap(
        ["<script>", "a&b", '"q"'],
        np.array([[0.2, 0.8, 0.0], [0.5, 0.5, 0.0]]),
        "title <i>",
        "note & more",
    )
    page = heatmap_html([item], "T <x>", "intro <y>")
    for raw in ("<script>", "<i>", "<x>", "<y>"):
        assert raw not in page
    assert "&lt;script&gt;" in page and "a&amp;b" in page and "note &amp; more" in page
    assert "rgba(40,90,220,1.000)" in page  # hop 1's heaviest word
    assert "rgba(40,90,220,0.000)" in page  # a weight of 0 is unshaded
    assert page.count("hop ") == 2 and "summed over the hops" in page


def test_figure_has_a_panel_per_text_with_hops_and_their_mean():
    items = [
        Heatmap(list("abcd"), np.full((3, 4), 0.25), "one"),
        Heatmap(list("xy"), np.array([[1.0, 0.0]]), "two"),
    ]
    fig = heatmap_figure(items, "t")
    panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert [ax.get_title(loc="left") for ax in panels] == ["one", "two"]
    assert [t.get_text() for t in panels[0].get_yticklabels()][-1] == "sum / r"
