"""The recorder's per-step norms equal autograd's gradients at the pre-activations."""

import pytest
import torch

import seqlab
from seqlab.analysis import record_gradient_flow

from ..recurrent.conftest import tier  # noqa: F401  (a fixture: both kernel tiers)

F64 = torch.float64


def _rnn_autograd_norms(m, x):
    """‖∂E/∂A_t‖ per step from a hand-unrolled tanh RNN with retained pre-activations."""
    W, U = m.weight_ih_l0, m.weight_hh_l0
    b = m.bias_ih_l0 + m.bias_hh_l0
    h, pre, outs = torch.zeros(x.shape[1], U.shape[0], dtype=F64), [], []
    for t in range(x.shape[0]):
        a = x[t] @ W.T + h @ U.T + b
        a.retain_grad()
        pre.append(a)
        h = torch.tanh(a)
        outs.append(h)
    (torch.stack(outs)[-1] ** 2).sum().backward()
    return torch.stack([a.grad.norm() for a in pre])


@pytest.mark.usefixtures("tier")  # the Python and the compiled kernels
def test_rnn_pre_activation_norms_match_autograd():
    m = seqlab.RNN(2, 5, backend="auto", dtype=F64)  # auto must switch to the traced path
    x = torch.randn(12, 3, 2, dtype=F64)
    with record_gradient_flow() as flow:
        out, _ = m(x)
        (out[-1] ** 2).sum().backward()
    expected = _rnn_autograd_norms(m, x)
    torch.testing.assert_close(flow.norms("pre_activation"), expected, atol=1e-12, rtol=0)
    # The gradient of a loss at the last step vanishes towards the first steps.
    assert flow.norms()[0] < flow.norms()[-1]


@pytest.mark.usefixtures("tier")
def test_lstm_records_gate_and_cell_gradients_per_layer_and_direction():
    m = seqlab.LSTM(2, 4, 2, bidirectional=True, dtype=F64)
    x = torch.randn(6, 3, 2, dtype=F64)
    with record_gradient_flow() as flow:
        out, _ = m(x)
        out[-1].sum().backward()
    keys = {(r.key.layer, r.key.direction, r.quantity) for r in flow.records}
    assert keys == {(ly, d, q) for ly in (0, 1) for d in (0, 1) for q in ("pre_activation", "cell")}
    assert flow.norms("cell", layer=1, direction=0).shape == (6,)


@pytest.mark.usefixtures("tier")
def test_lstm_cell_norms_match_autograd():
    m = seqlab.LSTM(1, 3, backend="seqlab", dtype=F64)
    x = torch.randn(5, 2, 1, dtype=F64)
    with record_gradient_flow() as flow:
        out, _ = m(x)
        out[-1].sum().backward()
    W, U = m.weight_ih_l0, m.weight_hh_l0
    b = m.bias_ih_l0 + m.bias_hh_l0
    h = c = torch.zeros(2, 3, dtype=F64)
    cells = []
    for t in range(5):
        i, f, g, o = (x[t] @ W.T + h @ U.T + b).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        c.retain_grad()
        cells.append(c)
        h = torch.sigmoid(o) * torch.tanh(c)
    h.sum().backward()
    expected = torch.stack([c.grad.norm() for c in cells])
    torch.testing.assert_close(flow.norms("cell"), expected, atol=1e-12, rtol=0)


def test_torch_backend_refuses_to_record():
    m = seqlab.LSTM(2, 3, backend="torch")
    with record_gradient_flow(), pytest.raises(seqlab.BackendError, match="hand-derived"):
        m(torch.randn(4, 1, 2))


def test_missing_records_explain_themselves():
    with record_gradient_flow() as flow, pytest.raises(LookupError, match="inside `with"):
        flow.norms()
