"""Additive (Bahdanau) attention: closed forms, masks, the hand-derived core against autograd."""

import math

import pytest
import torch

from seqlab.attention import AdditiveAttention, lengths_to_mask
from seqlab.attention.additive import AdditiveFunction, additive_reference
from seqlab.errors import InputError, ShapeError

from .helpers import F64, B, E, K, Q, S, T, assert_masked_keys_have_no_effect
from .helpers import assert_all_close as _assert_all_close
from .helpers import grads as _grads
from .helpers import mask as _mask

A = 8  # attention size


def _scalar_attention(v: float) -> AdditiveAttention:
    """Q = K = A = 1, W = 0, U = 1, b = 0, v given: e_j = v tanh(h_j)."""
    attention = AdditiveAttention(1, 1, 1, dtype=F64)
    with torch.no_grad():
        attention.query_proj.weight.zero_()
        attention.key_proj.weight.fill_(1.0)
        attention.key_proj.bias.zero_()
        attention.score.fill_(v)
    return attention


def test_scores_one_apart_give_weights_one_and_e():
    # e_j = 2 tanh(atanh(t_j)) = 0.5, 1.5
    keys = torch.tensor([[[math.atanh(0.25)], [math.atanh(0.75)]]], dtype=F64)  # (1, 2, 1)
    context, weights = _scalar_attention(2.0)(torch.randn(1, 1, dtype=F64), keys)
    torch.testing.assert_close(weights, torch.tensor([[1.0, E]], dtype=F64) / (1 + E))
    expected = (keys[0, 0] + E * keys[0, 1]) / (1 + E)
    torch.testing.assert_close(context, expected[None])


def test_equal_scores_give_uniform_weights_and_the_mean_key():
    attention = AdditiveAttention(Q, K, A, dtype=F64)
    with torch.no_grad():
        attention.key_proj.weight.zero_()  # U h_j + b = b for every j
    keys = torch.randn(B, S, K, dtype=F64)
    context, weights = attention(torch.randn(B, T, Q, dtype=F64), keys)
    torch.testing.assert_close(weights, torch.full((B, T, S), 1 / S, dtype=F64))
    torch.testing.assert_close(context, keys.mean(1, keepdim=True).expand(B, T, K))


@pytest.mark.parametrize("query_shape", [(B, Q), (B, T, Q)])
def test_masked_keys_have_exactly_no_effect(query_shape):
    attention = AdditiveAttention(Q, K, A)
    query, keys, mask = torch.randn(*query_shape), torch.randn(B, S, K), _mask()
    assert_masked_keys_have_no_effect(attention, query, keys, mask)


@pytest.mark.parametrize("query_shape", [(B, A), (B, T, A)])
@pytest.mark.parametrize("per_row_mask", [False, True])
def test_hand_derived_core_equals_autograd(query_shape, per_row_mask):
    query_proj = torch.randn(*query_shape, dtype=F64, requires_grad=True)
    key_proj = torch.randn(B, S, A, dtype=F64, requires_grad=True)
    score = torch.randn(A, dtype=F64, requires_grad=True)
    keys = torch.randn(B, S, K, dtype=F64, requires_grad=True)
    mask = _mask()
    if per_row_mask and len(query_shape) == 3:
        mask = mask[:, None, :] & torch.ones(T, S, dtype=torch.bool).tril()
    rows = query_proj if len(query_shape) == 3 else query_proj.unsqueeze(1)
    ours = AdditiveFunction.apply(rows, key_proj, score, keys, mask)
    if len(query_shape) == 2:
        ours = tuple(t.squeeze(1) for t in ours)
    ref = additive_reference(query_proj, key_proj, score, keys, mask)
    _assert_all_close(ours, ref, 1e-14, ["context", "weights"])
    leaves = [query_proj, key_proj, score, keys]
    probes = [torch.randn_like(t) for t in ref]  # the loss reads context and weights
    names = ["query_proj", "key_proj", "score", "keys"]
    _assert_all_close(_grads(ours, leaves, probes), _grads(ref, leaves, probes), 1e-12, names)


@pytest.mark.parametrize("query_shape", [(B, Q), (B, T, Q)])
@pytest.mark.parametrize("given_projection", [False, True])
def test_module_gradients_equal_autograd_of_the_equations(query_shape, given_projection):
    attention = AdditiveAttention(Q, K, A, dtype=F64)
    query = torch.randn(*query_shape, dtype=F64, requires_grad=True)
    keys = torch.randn(B, S, K, dtype=F64, requires_grad=True)
    mask = _mask()
    W, U, b = attention.query_proj.weight, attention.key_proj.weight, attention.key_proj.bias
    v = attention.score
    projected = attention.project_keys(keys) if given_projection else None
    ours = attention(query, keys, mask, projected_keys=projected)
    # e_ij = vᵀ tanh(W s_i + U h_j + b), written out by hand
    ref = additive_reference(query @ W.T, keys @ U.T + b, v, keys, mask)
    _assert_all_close(ours, ref, 1e-14, ["context", "weights"])
    leaves, names = [query, keys, W, U, b, v], ["query", "keys", "W", "U", "b", "v"]
    probes = [torch.randn_like(t) for t in ref]
    _assert_all_close(_grads(ours, leaves, probes), _grads(ref, leaves, probes), 1e-12, names)


def test_gradient_reaches_given_projected_keys():
    attention = AdditiveAttention(Q, K, A, dtype=F64)
    keys = torch.randn(B, S, K, dtype=F64)
    projected = attention.project_keys(keys).detach().requires_grad_()
    query = torch.randn(B, Q, dtype=F64)
    ours = attention(query, keys, _mask(), projected_keys=projected)
    ref = additive_reference(attention.query_proj(query), projected, attention.score, keys, _mask())
    probes = [torch.randn_like(t) for t in ref]
    _assert_all_close(
        _grads(ours, [projected], probes), _grads(ref, [projected], probes), 1e-12, ["P"]
    )


def _core_inputs():
    """Small float64 inputs of the core, q (B, T, A), P (B, S, A), v (A,), h (B, S, K), and a
    mask (B, S)."""
    shapes = [(2, 3, 5), (2, 4, 5), (5,), (2, 4, 3)]
    inputs = tuple(torch.randn(s, dtype=F64, requires_grad=True) for s in shapes)
    return inputs, lengths_to_mask(torch.tensor([4, 2]), 4)


def test_gradcheck():
    inputs, mask = _core_inputs()
    assert torch.autograd.gradcheck(lambda *x: AdditiveFunction.apply(*x, mask), inputs)


def _penalty_grads(fn, inputs, probes):
    """∂/∂inputs of ‖∂L/∂inputs‖², L = Σ fn(inputs) · probes (a gradient penalty)."""
    loss = sum((o * p).sum() for o, p in zip(fn(*inputs), probes, strict=True))
    first = torch.autograd.grad(loss, inputs, create_graph=True)
    return torch.autograd.grad(sum((g * g).sum() for g in first), inputs)


def test_second_derivatives_equal_autograd_of_the_reference():
    inputs, mask = _core_inputs()
    probes = [torch.randn(2, 3, 3, dtype=F64), torch.randn(2, 3, 4, dtype=F64)]
    ours = _penalty_grads(lambda *x: AdditiveFunction.apply(*x, mask), inputs, probes)
    ref = _penalty_grads(lambda *x: additive_reference(*x, mask), inputs, probes)
    _assert_all_close(ours, ref, 1e-12, ["q", "P", "v", "h"])
    assert torch.autograd.gradgradcheck(lambda *x: AdditiveFunction.apply(*x, mask), inputs)


def test_queries_over_time_equal_one_call_per_step():
    attention = AdditiveAttention(Q, K, A, dtype=F64)
    query, keys, mask = torch.randn(B, T, Q, dtype=F64), torch.randn(B, S, K, dtype=F64), _mask()
    context, weights = attention(query, keys, mask)
    projected = attention.project_keys(keys)
    for t in range(T):
        step_context, step_weights = attention(query[:, t], keys, mask, projected)
        torch.testing.assert_close(context[:, t], step_context, atol=1e-15, rtol=0)
        torch.testing.assert_close(weights[:, t], step_weights, atol=1e-15, rtol=0)


def test_keys_projected_once_give_the_same_result():
    attention = AdditiveAttention(Q, K, A)
    query, keys = torch.randn(B, Q), torch.randn(B, S, K)
    ours = attention(query, keys, _mask(), attention.project_keys(keys))
    for a, b in zip(ours, attention(query, keys, _mask()), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "query,keys,mask,error,match",
    [
        (
            torch.randn(B, Q),
            torch.randn(B, S, 48),
            None,
            ShapeError,
            r"keys has 48 features .* built with key_size=7",
        ),
        (torch.randn(B, 9), torch.randn(B, S, K), None, ShapeError, "built with query_size=6"),
        (torch.randn(Q), torch.randn(B, S, K), None, ShapeError, r"2-D \(B, Q\) or 3-D"),
        (torch.randn(B, Q), torch.randn(S, K), None, ShapeError, r"keys must be 3-D \(B, S, K\)"),
        (torch.randn(B, Q), torch.randn(B, 0, K), None, ShapeError, r"no positions \(S = 0\)"),
        (torch.randn(2, Q), torch.randn(B, S, K), None, ShapeError, "repeat_interleave"),
        (torch.randn(B, Q), torch.randn(B, S, K), torch.ones(B, S), InputError, "torch.bool"),
        (
            torch.randn(B, Q),
            torch.randn(B, S, K),
            torch.ones(B, S + 1, dtype=torch.bool),
            ShapeError,
            r"mask has shape \(3, 6\); expected \(3, 5\)",
        ),
        (
            torch.randn(B, Q),
            torch.randn(B, S, K),
            torch.tensor([[True] * S, [False] * S, [True] * S]),
            InputError,
            r"no True position \(the first at index \[1\]\)",
        ),
        (
            torch.randn(B, Q, dtype=F64),
            torch.randn(B, S, K),
            None,
            InputError,
            "query is torch.float64 on cpu but the additive attention computes in torch.float32",
        ),
        ([0.0] * Q, torch.randn(B, S, K), None, InputError, "query must be a Tensor, got list"),
    ],
)
def test_input_errors(query, keys, mask, error, match):
    with pytest.raises(error, match=match):
        AdditiveAttention(Q, K, A)(query, keys, mask)


def test_projected_keys_errors():
    attention = AdditiveAttention(Q, K, A)
    query, keys = torch.randn(B, Q), torch.randn(B, S, K)
    with pytest.raises(ShapeError, match=r"projected_keys has shape \(3, 5, 4\); expected"):
        attention(query, keys, projected_keys=torch.randn(B, S, 4))
    with pytest.raises(InputError, match="projected_keys is torch.float64"):
        attention(query, keys, projected_keys=torch.randn(B, S, A, dtype=F64))
    with pytest.raises(ShapeError, match=r"expected \(B, S, K\) with K = key_size=7"):
        attention.project_keys(torch.randn(B, S, 3))
    with pytest.raises(InputError, match="keys is torch.float64 on cpu"):
        attention.project_keys(torch.randn(B, S, K, dtype=F64))


@pytest.mark.parametrize("args", [(0, K, A), (Q, 2.0, A), (Q, K, True)])
def test_constructor_rejects_bad_sizes(args):
    with pytest.raises(InputError, match="expected an integer >= 1"):
        AdditiveAttention(*args)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    attention = AdditiveAttention(Q, K, A, dtype=F64)
    query, keys, mask = torch.randn(B, T, Q, dtype=F64), torch.randn(B, S, K, dtype=F64), _mask()
    expected = attention(query, keys, mask)
    ours = attention.cuda()(query.cuda(), keys.cuda(), mask.cuda())
    _assert_all_close([t.cpu() for t in ours], expected, 1e-12, ["context", "weights"])
