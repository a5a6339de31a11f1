"""The LSTM's hand-derived BPTT against autograd, and its variants against their equations."""

import itertools

import pytest
import torch

import seqlab
from seqlab.recurrent import lstm as lstm_module
from seqlab.recurrent import reference
from seqlab.recurrent.lstm import PARAM_ORDER, LSTMFunction, run_lstm_layer

from ..conftest import lengths_mask
from .helpers import assert_close_all, grads, layer_params, perturb_layer_norm

F64 = torch.float64
VARIANTS = list(itertools.product([None, "diagonal", "full"], [False, True]))


def _setup(peephole, layer_norm, B=3, H=5, T=6, I=4, bias=True):
    m = seqlab.LSTM(
        I, H, bias=bias, peephole=peephole, layer_norm=layer_norm, backend="seqlab", dtype=F64
    )
    perturb_layer_norm(m)
    params = layer_params(m)
    x = torch.randn(T, B, I, dtype=F64, requires_grad=True)
    h0 = torch.randn(B, H, dtype=F64, requires_grad=True)
    c0 = torch.randn(B, H, dtype=F64, requires_grad=True)
    return params, x, h0, c0


@pytest.mark.parametrize("peephole,layer_norm", VARIANTS)
@pytest.mark.parametrize("masked,reverse", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("size", [(3, 5), (9, 500)])  # (B, H); the second runs tanh via σ
def test_hand_derived_equals_autograd_of_reference(
    peephole, layer_norm, masked, reverse, size, tier
):
    B, H = size
    params, x, h0, c0 = _setup(peephole, layer_norm, B=B, H=H)
    T = x.shape[0]
    mask = lengths_mask(torch.randint(1, T + 1, (B,)), T) if masked else None
    _assert_matches_reference(x, h0, c0, params, mask, reverse, peephole, layer_norm)


def _assert_matches_reference(x, h0, c0, params, mask, reverse, peephole, layer_norm):
    """The kernel's outputs and float64 gradients against autograd of the reference loop;
    returns the kernel's [out, h_T, c_T]."""
    ours = run_lstm_layer(x, h0, c0, params, mask, reverse, peephole, layer_norm)
    ref = reference.lstm_layer(x, h0, c0, params, peephole, layer_norm, mask, reverse)
    ours, ref = [ours[0], *ours[1]], [ref[0], *ref[1]]
    assert_close_all(ours, ref, atol=1e-12)
    weights = [torch.randn_like(o) for o in ours]
    inputs = [x, h0, c0, *params.values()]
    names = ["x", "h0", "c0", *params]
    assert_close_all(
        grads(ours, inputs, weights), grads(ref, inputs, weights), atol=1e-10, names=names
    )
    return ours


@pytest.mark.parametrize("peephole,layer_norm", VARIANTS)
def test_gradcheck(peephole, layer_norm, tier):
    params, x, h0, c0 = _setup(peephole, layer_norm, B=2, H=3, T=4, I=2)
    mask = lengths_mask(torch.tensor([4, 2]), 4)
    args = [params.get(n) for n in PARAM_ORDER]

    def f(x, h0, c0, *ps):
        return LSTMFunction.apply(
            x, h0, c0, *ps, mask, peephole, layer_norm, None, None, False, True
        )

    present = [a for a in args if a is not None]

    def g(x, h0, c0, *present_ps):
        it = iter(present_ps)
        return f(x, h0, c0, *(next(it) if a is not None else None for a in args))

    assert torch.autograd.gradcheck(g, (x, h0, c0, *present))


def test_no_bias_matches_reference(tier):
    params, x, h0, c0 = _setup(None, False, bias=False)
    assert params.get("bias_ih") is None
    params |= {"bias_ih": None, "bias_hh": None}
    out, (h, c) = run_lstm_layer(x, h0, c0, params, None, False)
    ref_out, (ref_h, ref_c) = reference.lstm_layer(x, h0, c0, params)
    assert_close_all([out, h, c], [ref_out, ref_h, ref_c], atol=1e-12)


@pytest.mark.parametrize("peephole", ["diagonal", "full"])
def test_zero_peephole_is_the_plain_lstm(peephole, tier):
    plain = seqlab.LSTM(4, 6, 2, backend="seqlab", dtype=F64)
    peep = seqlab.LSTM(4, 6, 2, peephole=peephole, backend="seqlab", dtype=F64)
    state = plain.state_dict() | {
        k: torch.zeros_like(v) for k, v in peep.state_dict().items() if "peephole" in k
    }
    peep.load_state_dict(state)
    x = torch.randn(7, 3, 4, dtype=F64)
    (a, (ha, ca)), (b, (hb, cb)) = plain(x), peep(x)
    assert_close_all([a, ha, ca], [b, hb, cb], atol=1e-14)
    # ... and a non-zero peephole changes the result, so the test above can fail.
    with torch.no_grad():
        peep.weight_peephole_l0.fill_(0.5)
    assert not torch.allclose(plain(x)[0], peep(x)[0], atol=1e-6)


def test_peephole_parameter_shapes():
    assert seqlab.LSTM(3, 5, peephole="diagonal").weight_peephole_l0.shape == (3, 5)
    assert seqlab.LSTM(3, 5, peephole="full").weight_peephole_l0.shape == (5, 5)
    names = {n for n, _ in seqlab.LSTM(3, 5, layer_norm=True).named_parameters()}
    assert {"ln_ih_weight_l0", "ln_hh_bias_l0", "ln_c_weight_l0"} <= names


def test_variants_refuse_the_torch_backend():
    with pytest.raises(seqlab.BackendError, match="peephole"):
        seqlab.LSTM(3, 5, peephole="full", backend="torch")(torch.randn(2, 1, 3))
    with pytest.raises(seqlab.BackendError, match="layer normalisation"):
        seqlab.LSTM(3, 5, layer_norm=True, backend="torch")(torch.randn(2, 1, 3))
    with pytest.raises(seqlab.InputError, match="peephole='diag'"):
        seqlab.LSTM(3, 5, peephole="diag")


@pytest.mark.parametrize(
    "peephole,layer_norm", [(None, False), ("diagonal", True), ("full", False)]
)
def test_backward_in_uneven_chunks_of_steps(monkeypatch, peephole, layer_norm):
    # Large batches form the δ-independent factors a few steps at a time; force 3-step
    # chunks over 7 steps (3 + 3 + 1) at a small size, with a mask.
    monkeypatch.setattr(lstm_module, "_CHUNK_ELEMENTS", 3 * 4 * 5)
    params, x, h0, c0 = _setup(peephole, layer_norm, B=4, H=5, T=7)
    mask = lengths_mask(torch.tensor([7, 3, 1, 5]), 7)
    ours = run_lstm_layer(x, h0, c0, params, mask, True, peephole, layer_norm)
    ref = reference.lstm_layer(
        x, h0, c0, params, peephole=peephole, layer_norm=layer_norm, mask=mask, reverse=True
    )
    ours, ref = [ours[0], *ours[1]], [ref[0], *ref[1]]
    weights = [torch.randn_like(o) for o in ours]
    inputs = [x, h0, c0, *params.values()]
    assert_close_all(grads(ours, inputs, weights), grads(ref, inputs, weights), atol=1e-10)


@pytest.mark.parametrize("peephole,layer_norm", VARIANTS)
@pytest.mark.parametrize("masked,reverse", [(False, False), (True, True)])
@pytest.mark.parametrize("size", [(3, 5, 2), (9, 500, 7)])  # (B, H, P); the second: tanh via σ
def test_projection_hand_derived_equals_autograd_of_reference(
    peephole, layer_norm, masked, reverse, size, tier
):
    B, H, P = size
    T, I = 6, 4
    m = seqlab.LSTM(I, H, proj_size=P, peephole=peephole, layer_norm=layer_norm, dtype=F64)
    perturb_layer_norm(m)
    params = layer_params(m) | {"bias_ih": m.bias_ih_l0, "bias_hh": m.bias_hh_l0}
    assert params["weight_hr"].shape == (P, H) and params["weight_hh"].shape == (4 * H, P)
    x = torch.randn(T, B, I, dtype=F64, requires_grad=True)
    h0 = torch.randn(B, P, dtype=F64, requires_grad=True)
    c0 = torch.randn(B, H, dtype=F64, requires_grad=True)
    mask = lengths_mask(torch.randint(1, T + 1, (B,)), T) if masked else None
    out, _, c = _assert_matches_reference(x, h0, c0, params, mask, reverse, peephole, layer_norm)
    assert out.shape == (T, B, P) and c.shape == (B, H)


def test_projection_gradcheck(tier):
    m = seqlab.LSTM(2, 4, proj_size=2, peephole="full", dtype=F64)
    params = layer_params(m)
    args = [params.get(n) for n in PARAM_ORDER]
    mask = lengths_mask(torch.tensor([3, 1]), 3)
    x = torch.randn(3, 2, 2, dtype=F64, requires_grad=True)
    h0 = torch.randn(2, 2, dtype=F64, requires_grad=True)
    c0 = torch.randn(2, 4, dtype=F64, requires_grad=True)
    present = [a for a in args if a is not None]

    def f(x, h0, c0, *present_ps):
        it = iter(present_ps)
        ps = [next(it) if a is not None else None for a in args]
        return LSTMFunction.apply(x, h0, c0, *ps, mask, "full", False, None, None, False, True)

    assert torch.autograd.gradcheck(f, (x, h0, c0, *present))
