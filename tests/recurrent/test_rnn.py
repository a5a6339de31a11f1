"""The Elman RNN's hand-derived BPTT against autograd through its equations."""

import pytest
import torch

import seqlab
from seqlab.recurrent import reference
from seqlab.recurrent.rnn import RNNFunction, run_rnn_layer

from ..conftest import lengths_mask
from .helpers import assert_close_all, grads, layer_params

F64 = torch.float64


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid", "linear"])
@pytest.mark.parametrize("masked,reverse", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("size", [(3, 5), (9, 600)])  # (B, H); the second runs tanh via σ
@pytest.mark.parametrize("bias", [True, False])
def test_hand_derived_equals_autograd_of_reference(nonlinearity, masked, reverse, size, bias, tier):
    B, H = size
    T = 6
    m = seqlab.RNN(4, H, nonlinearity=nonlinearity, bias=bias, dtype=F64)
    params = layer_params(m) | ({} if bias else {"bias_ih": None, "bias_hh": None})
    x = torch.randn(T, B, 4, dtype=F64, requires_grad=True)
    h0 = torch.randn(B, H, dtype=F64, requires_grad=True)
    mask = lengths_mask(torch.randint(1, T + 1, (B,)), T) if masked else None
    ours = run_rnn_layer(x, h0, params, mask, reverse, nonlinearity)
    ref = reference.rnn_layer(x, h0, params, nonlinearity, mask, reverse)
    assert_close_all(ours, ref, atol=1e-12)
    leaves = [x, h0, *(p for p in params.values() if p is not None)]
    weights = [torch.randn_like(t) for t in ours]
    assert_close_all(grads(ours, leaves, weights), grads(ref, leaves, weights), atol=1e-10)


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid", "linear"])
def test_gradcheck(nonlinearity, tier):
    m = seqlab.RNN(2, 3, nonlinearity=nonlinearity, dtype=F64)
    p = layer_params(m)
    x = torch.randn(4, 2, 2, dtype=F64, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=F64, requires_grad=True)
    mask = lengths_mask(torch.tensor([4, 2]), 4)

    def f(x, h0, w_ih, w_hh, b_ih, b_hh):
        return RNNFunction.apply(
            x, h0, w_ih, w_hh, b_ih, b_hh, mask, nonlinearity, None, None, False
        )

    assert torch.autograd.gradcheck(
        f, (x, h0, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    )


def test_sigmoid_rnn_is_the_lecture_network():
    # z_t = σ(W x_t + U z_{t-1} + b): one step by hand.
    m = seqlab.RNN(2, 2, nonlinearity="sigmoid", dtype=F64)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
        m.weight_hh_l0.zero_()
        m.bias_ih_l0.zero_()
        m.bias_hh_l0.zero_()
    out, _ = m(torch.tensor([[[2.0, 3.0]]], dtype=F64))
    expected = torch.sigmoid(torch.tensor([2.0, -3.0], dtype=F64))
    torch.testing.assert_close(out[0, 0], expected, atol=1e-15, rtol=0)
