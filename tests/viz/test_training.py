"""Loss against step: which rows are drawn, and when the loss axis turns logarithmic."""

import pytest

from seqlab.viz.training import loss_by_step, loss_points

ROWS = [
    {"step": 1, "split": "train", "loss": 2.0},
    {"step": 2, "split": "train", "loss": "nan"},  # a diverged step, as metrics.jsonl writes it
    {"step": 2, "split": "valid", "loss": 1.5},
    {"step": 3, "split": "train", "loss": True},
    {"step": 4, "split": "train"},
    {"step": 5, "split": "train", "loss": 0.5, "lr": 0.1},
]


def test_loss_points_keeps_the_finite_numbers_of_one_split():
    assert loss_points(ROWS, "train") == [(1, 2.0), (5, 0.5)]
    assert loss_points(ROWS, "valid") == [(2, 1.5)]


def test_one_line_per_split_and_a_log_axis_only_for_a_wide_range():
    fig = loss_by_step(ROWS, title="seed 0")
    ax = fig.axes[0]
    assert [line.get_label().split(":")[0] for line in ax.lines] == ["training", "validation"]
    assert list(ax.lines[0].get_xdata()) == [1, 5] and ax.get_yscale() == "linear"
    assert ax.get_title() == "seed 0"
    wide = ROWS + [{"step": 9, "split": "train", "loss": 0.01}]
    assert loss_by_step(wide).axes[0].get_yscale() == "log"


def test_no_finite_loss_is_an_error_not_an_empty_figure():
    with pytest.raises(ValueError, match="no finite loss"):
        loss_by_step([{"step": 1, "split": "train", "loss": "inf"}])
