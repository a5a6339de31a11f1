"""The LSTM's gates and cell states, step by step, against the modules' own outputs."""

import pytest
import torch
from torch import nn

from seqlab import recurrent
from seqlab.analysis.gates import lstm_internals


@pytest.mark.parametrize("make", [
    lambda: recurrent.LSTM(5, 3, batch_first=True, backend="seqlab"),
    lambda: nn.LSTM(5, 3, batch_first=True),
])  # fmt: skip
def test_the_outputs_equal_the_modules_and_the_cell_follows_its_equation(make):
    lstm = make().double()
    x = torch.randn(2, 7, 5, dtype=torch.float64)
    found = lstm_internals(lstm, x)
    out, (h, c) = lstm(x)
    assert torch.allclose(found["h"], out, atol=1e-12)
    assert torch.allclose(found["c"][:, -1], c[0], atol=1e-12)
    i, f, g, c_all = found["i"], found["f"], found["g"], found["c"]
    previous = torch.cat([torch.zeros_like(c_all[:, :1]), c_all[:, :-1]], 1)
    assert torch.allclose(c_all, f * previous + i * g, atol=1e-12)
    for gate in "ifo":
        assert ((found[gate] > 0) & (found[gate] < 1)).all()


def test_stacked_or_bidirectional_lstms_are_refused():
    with pytest.raises(ValueError, match="one-layer"):
        lstm_internals(nn.LSTM(2, 2, num_layers=2, batch_first=True), torch.randn(1, 3, 2))
