"""The Transformer paper's schedule: linear warm-up, then lr ∝ 1/√step, peaking at train.lr."""

import math

import pytest

from seqlab.train.schedule import lr_factor


@pytest.mark.parametrize("step,expected", [(0, 1 / 100), (49, 0.5), (99, 1.0), (399, 0.5)])
def test_noam_warms_up_linearly_then_decays_as_inverse_square_root(step, expected):
    assert lr_factor("noam", 0.3, step, 100, 0.05) == pytest.approx(expected)


def test_noam_is_the_papers_formula_up_to_its_peak():
    """lr = d^-0.5 · min(s^-0.5, s · w^-1.5) with s = step + 1, divided by its peak (d·w)^-0.5."""
    d, w = 512, 4000
    for s in (1, 10, 3999, 4000, 4001, 20000, 100000):
        paper = d**-0.5 * min(s**-0.5, s * w**-1.5)
        assert lr_factor("noam", 0.0, s - 1, w, 0.0) == pytest.approx(paper / (d * w) ** -0.5)
    assert not math.isnan(lr_factor("noam", 1.0, 10, 0, 0.0))  # no warm-up: 1 throughout
