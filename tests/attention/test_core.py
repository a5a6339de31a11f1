"""Masks, the masked softmax, and the hand-derived softmax → context against autograd."""

import math

import pytest
import torch

from seqlab.attention import lengths_to_mask, masked_softmax
from seqlab.attention.core import (
    SoftmaxContextFunction,
    softmax_context,
    softmax_context_reference,
)
from seqlab.errors import InputError, ShapeError

F64 = torch.float64
E = math.e


def _grads(outputs, leaves, weights):
    loss = sum((o * w).sum() for o, w in zip(outputs, weights, strict=True))
    return torch.autograd.grad(loss, leaves)


# lengths_to_mask


def test_lengths_to_mask_closed_form():
    mask = lengths_to_mask(torch.tensor([2, 1, 3]), 3)
    expected = torch.tensor([[True, True, False], [True, False, False], [True, True, True]])
    assert mask.dtype == torch.bool
    assert torch.equal(mask, expected)


def test_lengths_to_mask_takes_a_tensor_max_len():
    lengths = torch.tensor([4, 2])
    assert lengths_to_mask(lengths, lengths.max()).shape == (2, 4)


@pytest.mark.parametrize(
    "lengths,max_len,error,match",
    [
        (torch.tensor([2, 0]), 3, InputError, r"lengths must lie in \[1, 3\].*from 0 to 2"),
        (torch.tensor([4, 1]), 3, InputError, r"lengths must lie in \[1, 3\].*from 1 to 4"),
        (torch.tensor([2.0, 1.0]), 3, InputError, "must hold integers, got dtype torch.float32"),
        (torch.tensor([[2, 1]]), 3, ShapeError, r"lengths has shape \(1, 2\); expected \(B,\)"),
        (torch.tensor([1]), 0, InputError, "max_len=0: expected an integer >= 1"),
        (torch.tensor([1]), 2.5, InputError, "max_len=2.5: expected an integer >= 1"),
        ([1, 2], 3, InputError, "lengths must be a Tensor, got list"),
    ],
)
def test_lengths_to_mask_errors(lengths, max_len, error, match):
    with pytest.raises(error, match=match):
        lengths_to_mask(lengths, max_len)


# masked_softmax


def test_scores_one_apart_give_one_and_e():
    weights = masked_softmax(torch.tensor([[0.5, 1.5]], dtype=F64), None)
    torch.testing.assert_close(weights, torch.tensor([[1.0, E]], dtype=F64) / (1 + E))


def test_masked_positions_are_exactly_zero_and_rows_sum_to_one():
    scores = torch.randn(3, 4, 5, dtype=F64) * 10
    mask = lengths_to_mask(torch.tensor([5, 3, 1]), 5)
    weights = masked_softmax(scores, mask)
    assert (weights[~mask.unsqueeze(1).expand_as(weights)] == 0.0).all()
    assert (weights[mask.unsqueeze(1).expand_as(weights)] > 0.0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, dtype=F64))
    # A one-key row puts all its weight there.
    assert (weights[2, :, 0] == 1.0).all()


def test_scores_at_masked_positions_do_not_matter():
    scores = torch.randn(2, 4)
    mask = torch.tensor([[True, False, True, False], [True, True, True, False]])
    wild = scores.clone()
    wild[~mask] = torch.tensor([float("inf"), float("nan"), 1e30])
    assert torch.equal(masked_softmax(scores, mask), masked_softmax(wild, mask))


def test_kept_positions_renormalise_like_a_softmax_over_them():
    scores = torch.randn(6, dtype=F64)
    mask = torch.tensor([True, False, True, True, False, True])
    weights = masked_softmax(scores[None], mask[None])[0]
    torch.testing.assert_close(weights[mask], torch.softmax(scores[mask], 0))


def test_no_mask_is_the_plain_softmax():
    scores = torch.randn(3, 2, 5)
    assert torch.equal(masked_softmax(scores, None), torch.softmax(scores, -1))


def test_mask_per_query_row():
    scores = torch.randn(2, 3, 3, dtype=F64)
    causal = torch.ones(3, 3, dtype=torch.bool).tril().expand(2, 3, 3)
    weights = masked_softmax(scores, causal)
    assert (weights[~causal] == 0.0).all()
    for t in range(3):
        torch.testing.assert_close(weights[:, t, : t + 1], torch.softmax(scores[:, t, : t + 1], -1))


def test_masked_positions_get_no_gradient():
    scores = torch.randn(2, 4, dtype=F64, requires_grad=True)
    mask = lengths_to_mask(torch.tensor([3, 2]), 4)
    (masked_softmax(scores, mask) * torch.randn(2, 4, dtype=F64)).sum().backward()
    assert (scores.grad[~mask] == 0.0).all()
    assert torch.isfinite(scores.grad).all()


def test_a_fully_masked_row_is_an_input_error():
    mask = torch.tensor([[True, True], [False, False]])
    with pytest.raises(InputError, match=r"1 row\(s\) with no True position.*index \[1\]"):
        masked_softmax(torch.randn(2, 2), mask)
    with pytest.raises(InputError, match=r"index \[1\].*each must be >= 1"):
        masked_softmax(torch.randn(2, 3, 2), mask)  # broadcast over T: still sequence 1
    per_row = torch.ones(2, 3, 2, dtype=torch.bool)
    per_row[0, 2] = False
    with pytest.raises(InputError, match=r"index \[0, 2\]"):
        masked_softmax(torch.randn(2, 3, 2), per_row)


@pytest.mark.parametrize(
    "scores,mask,error,match",
    [
        (torch.randn(2, 3), torch.ones(2, 3), InputError, "mask has dtype torch.float32"),
        (torch.randn(2, 3), torch.ones(3, 2, dtype=torch.bool), ShapeError, r"expected \(2, 3\)"),
        (torch.randn(2, 3), torch.ones(2, 4, 3, dtype=torch.bool), ShapeError, r"\(2, 4, 3\)"),
        (torch.randn(3), None, ShapeError, r"2-D \(B, S\) or 3-D \(B, T, S\); got shape \(3,\)"),
        (torch.ones(2, 3, dtype=torch.long), None, InputError, "floating-point"),
        (torch.randn(2, 0), None, ShapeError, r"no positions \(S = 0\)"),
    ],
)
def test_masked_softmax_errors(scores, mask, error, match):
    with pytest.raises(error, match=match):
        masked_softmax(scores, mask)


# softmax → context, hand-derived


@pytest.mark.parametrize("scores_shape", [(3, 5), (3, 4, 5)])
@pytest.mark.parametrize("per_row_mask", [False, True])
def test_hand_derived_softmax_context_equals_autograd(scores_shape, per_row_mask):
    scores = torch.randn(*scores_shape, dtype=F64, requires_grad=True)
    keys = torch.randn(3, 5, 6, dtype=F64, requires_grad=True)
    mask = lengths_to_mask(torch.tensor([5, 2, 1]), 5)
    if per_row_mask and len(scores_shape) == 3:
        mask = mask[:, None, :] & (torch.rand(3, 4, 5) < 0.7)
        mask[:, :, 0] = True
    ours = softmax_context(scores, keys, mask)
    ref = softmax_context_reference(scores, keys, mask)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-14, rtol=0)
    weights = [torch.randn_like(t) for t in ours]  # the loss reads context and weights
    leaves = [scores, keys]
    for a, b in zip(_grads(ours, leaves, weights), _grads(ref, leaves, weights), strict=True):
        torch.testing.assert_close(a, b, atol=1e-13, rtol=0)


@pytest.mark.parametrize("read", ["context", "weights"])
def test_hand_derived_when_the_loss_reads_one_output(read):
    scores = torch.randn(2, 3, 4, dtype=F64, requires_grad=True)
    keys = torch.randn(2, 4, 5, dtype=F64, requires_grad=True)
    mask = lengths_to_mask(torch.tensor([4, 2]), 4)
    index = 0 if read == "context" else 1
    probe = torch.randn_like(softmax_context_reference(scores, keys, mask)[index])
    ours = (softmax_context(scores, keys, mask)[index] * probe).sum()
    ref = (softmax_context_reference(scores, keys, mask)[index] * probe).sum()
    leaves = [scores, keys]  # the weights do not depend on the keys: a zero gradient
    ours = torch.autograd.grad(ours, leaves, allow_unused=True, materialize_grads=True)
    ref = torch.autograd.grad(ref, leaves, allow_unused=True, materialize_grads=True)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-13, rtol=0)


def test_softmax_context_gradcheck():
    scores = torch.randn(2, 3, 4, dtype=F64, requires_grad=True)
    keys = torch.randn(2, 4, 3, dtype=F64, requires_grad=True)
    mask = lengths_to_mask(torch.tensor([4, 2]), 4)
    assert torch.autograd.gradcheck(
        lambda s, k: SoftmaxContextFunction.apply(s, k, mask), (scores, keys)
    )


def test_softmax_context_second_derivatives_equal_autograd_of_the_reference():
    scores = torch.randn(2, 3, 4, dtype=F64, requires_grad=True)
    keys = torch.randn(2, 4, 3, dtype=F64, requires_grad=True)
    mask = lengths_to_mask(torch.tensor([4, 2]), 4)
    probes = [torch.randn(2, 3, 3, dtype=F64), torch.randn(2, 3, 4, dtype=F64)]

    def penalty_grads(fn):  # ∂/∂(scores, keys) of ‖∂L/∂(scores, keys)‖²
        loss = sum((o * p).sum() for o, p in zip(fn(scores, keys, mask), probes, strict=True))
        first = torch.autograd.grad(loss, (scores, keys), create_graph=True)
        return torch.autograd.grad(sum((g * g).sum() for g in first), (scores, keys))

    ours = penalty_grads(SoftmaxContextFunction.apply)
    ref = penalty_grads(softmax_context_reference)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    assert torch.autograd.gradgradcheck(
        lambda s, k: SoftmaxContextFunction.apply(s, k, mask), (scores, keys)
    )
