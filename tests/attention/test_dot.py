"""Luong dot and general attention: closed forms, masks, and gradients against autograd."""

import math

import pytest
import torch

from seqlab.attention import DotAttention, GeneralAttention, lengths_to_mask
from seqlab.attention.dot import dot_reference, general_reference
from seqlab.errors import InputError, ShapeError

from .helpers import F64, B, E, K, Q, S, T, assert_masked_keys_have_no_effect
from .helpers import assert_all_close as _assert_all_close
from .helpers import grads as _grads
from .helpers import mask as _mask


def test_dot_with_one_hot_keys_is_a_softmax_of_the_query():
    keys = torch.eye(3, dtype=F64)[None]  # (1, 3, 3): h_j = e_j, so e_j = s_j
    query = torch.tensor([[0.0, math.log(2.0), math.log(3.0)]], dtype=F64)
    context, weights = DotAttention()(query, keys)
    expected = torch.tensor([[1.0, 2.0, 3.0]], dtype=F64) / 6
    torch.testing.assert_close(weights, expected)
    torch.testing.assert_close(context, expected)  # Σ_j α_j e_j = α


def test_dot_with_a_zero_query_gives_the_mean_key():
    keys = torch.randn(B, S, K, dtype=F64)
    context, weights = DotAttention()(torch.zeros(B, T, K, dtype=F64), keys)
    torch.testing.assert_close(weights, torch.full((B, T, S), 1 / S, dtype=F64))
    torch.testing.assert_close(context, keys.mean(1, keepdim=True).expand(B, T, K))


def test_general_scores_one_apart_give_weights_one_and_e():
    attention = GeneralAttention(1, 2, dtype=F64)
    with torch.no_grad():
        attention.weight.copy_(torch.tensor([[0.5, 1.5]]))  # s W_a h_j with s = 1, h_j = e_j
    keys = torch.eye(2, dtype=F64)[None]
    context, weights = attention(torch.ones(1, 1, dtype=F64), keys)
    expected = torch.tensor([[1.0, E]], dtype=F64) / (1 + E)
    torch.testing.assert_close(weights, expected)
    torch.testing.assert_close(context, expected)


def test_general_with_identity_is_dot():
    attention = GeneralAttention(K, K, dtype=F64)
    with torch.no_grad():
        attention.weight.copy_(torch.eye(K))
    query, keys = torch.randn(B, T, K, dtype=F64), torch.randn(B, S, K, dtype=F64)
    ours, dot = attention(query, keys, _mask()), DotAttention()(query, keys, _mask())
    _assert_all_close(ours, dot, 1e-14, ["context", "weights"])


def _modules():
    return [("dot", DotAttention(), K), ("general", GeneralAttention(Q, K), Q)]


@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize("query_rank", [2, 3])
def test_masked_keys_have_exactly_no_effect(index, query_rank):
    _, attention, size = _modules()[index]
    query = torch.randn(B, size) if query_rank == 2 else torch.randn(B, T, size)
    keys, mask = torch.randn(B, S, K), _mask()
    assert_masked_keys_have_no_effect(attention, query, keys, mask)


@pytest.mark.parametrize("query_shape", [(B, K), (B, T, K)])
@pytest.mark.parametrize("per_row_mask", [False, True])
def test_dot_gradients_equal_autograd(query_shape, per_row_mask):
    query = torch.randn(*query_shape, dtype=F64, requires_grad=True)
    keys = torch.randn(B, S, K, dtype=F64, requires_grad=True)
    mask = _mask()
    if per_row_mask and len(query_shape) == 3:
        mask = mask[:, None, :] & torch.ones(T, S, dtype=torch.bool).tril()
    ours, ref = DotAttention()(query, keys, mask), dot_reference(query, keys, mask)
    _assert_all_close(ours, ref, 1e-14, ["context", "weights"])
    probes = [torch.randn_like(t) for t in ref]
    leaves = [query, keys]
    _assert_all_close(
        _grads(ours, leaves, probes), _grads(ref, leaves, probes), 1e-12, ["query", "keys"]
    )


@pytest.mark.parametrize("query_shape", [(B, Q), (B, T, Q)])
def test_general_gradients_equal_autograd(query_shape):
    attention = GeneralAttention(Q, K, dtype=F64)
    query = torch.randn(*query_shape, dtype=F64, requires_grad=True)
    keys = torch.randn(B, S, K, dtype=F64, requires_grad=True)
    ours = attention(query, keys, _mask())
    ref = general_reference(query, attention.weight, keys, _mask())
    _assert_all_close(ours, ref, 1e-14, ["context", "weights"])
    probes = [torch.randn_like(t) for t in ref]
    leaves, names = [query, keys, attention.weight], ["query", "keys", "W_a"]
    _assert_all_close(_grads(ours, leaves, probes), _grads(ref, leaves, probes), 1e-12, names)


def test_gradcheck():
    attention = GeneralAttention(3, 2, dtype=F64)
    mask = lengths_to_mask(torch.tensor([4, 2]), 4)
    query = torch.randn(2, 3, 3, dtype=F64, requires_grad=True)
    keys = torch.randn(2, 4, 2, dtype=F64, requires_grad=True)

    def general(q, k, w):
        return torch.func.functional_call(attention, {"weight": w}, (q, k, mask))

    assert torch.autograd.gradcheck(general, (query, keys, attention.weight.detach().clone()))
    dot_query = torch.randn(2, 2, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q, k: DotAttention()(q, k, mask), (dot_query, keys))


@pytest.mark.parametrize("index", [0, 1])
def test_queries_over_time_equal_one_call_per_step(index):
    _, attention, size = _modules()[index]
    attention = attention.double()
    query, keys = torch.randn(B, T, size, dtype=F64), torch.randn(B, S, K, dtype=F64)
    context, weights = attention(query, keys, _mask())
    for t in range(T):
        step_context, step_weights = attention(query[:, t], keys, _mask())
        torch.testing.assert_close(context[:, t], step_context, atol=1e-15, rtol=0)
        torch.testing.assert_close(weights[:, t], step_weights, atol=1e-15, rtol=0)


def test_dot_size_mismatch():
    with pytest.raises(ShapeError, match=r"query has 6 features.*keys have 7.*GeneralAttention"):
        DotAttention()(torch.randn(B, Q), torch.randn(B, S, K))


def test_dot_dtype_mismatch():
    with pytest.raises(InputError, match="keys is torch.float64 on cpu but the dot attention"):
        DotAttention()(torch.randn(B, K), torch.randn(B, S, K, dtype=F64))


@pytest.mark.parametrize(
    "query,keys,mask,error,match",
    [
        (torch.randn(B, Q), torch.randn(B, S, 48), None, ShapeError, r"48 features.*key_size=7"),
        (torch.randn(B, T, 2), torch.randn(B, S, K), None, ShapeError, "query_size=6"),
        (torch.randn(B, Q), torch.randn(B + 1, S, K), None, ShapeError, "query has batch 3"),
        (
            torch.randn(B, T, Q),
            torch.randn(B, S, K),
            torch.ones(B, T + 1, S, dtype=torch.bool),
            ShapeError,
            r"expected \(3, 5\) or \(3, 4, 5\)",
        ),
    ],
)
def test_general_input_errors(query, keys, mask, error, match):
    with pytest.raises(error, match=match):
        GeneralAttention(Q, K)(query, keys, mask)


def test_general_constructor_rejects_bad_sizes():
    with pytest.raises(InputError, match="key_size=0: expected an integer >= 1"):
        GeneralAttention(Q, 0)
