"""Structured self-attention (Lin et al. 2017): closed forms, masks, and the hand-derived
backward of the attention and of its penalty ∂P/∂A = 4 (A Aᵀ − I) A against autograd."""

import pytest
import torch

from seqlab.attention import StructuredSelfAttention, hop_overlap, hop_penalty, lengths_to_mask
from seqlab.attention.structured import (
    HopPenaltyFunction,
    StructuredFunction,
    hop_penalty_reference,
    structured_reference,
)
from seqlab.errors import InputError, ShapeError

from .helpers import F64, assert_all_close, grads

B, T, K, A, R = 3, 6, 5, 4, 3


def _mask():
    return lengths_to_mask(torch.tensor([T, 4, 1]), T)


def test_equal_scores_give_uniform_weights_over_the_real_tokens_and_their_mean():
    attention = StructuredSelfAttention(K, A, R, dtype=F64)
    with torch.no_grad():
        attention.hop_proj.weight.zero_()  # e = 0 for every position and hop
    hidden, mask = torch.randn(B, T, K, dtype=F64), _mask()
    M, weights = attention(hidden, mask)
    lengths = mask.sum(-1)
    expected = mask.to(F64) / lengths[:, None]  # (B, T)
    torch.testing.assert_close(weights, expected[:, None, :].expand(B, R, T))
    means = (hidden * mask[..., None]).sum(1) / lengths[:, None]
    torch.testing.assert_close(M, means[:, None, :].expand(B, R, K))


def test_padding_gets_weight_zero_and_has_no_effect():
    attention = StructuredSelfAttention(K, A, R)
    hidden, mask = torch.randn(B, T, K), _mask()
    M, weights = attention(hidden, mask)
    assert (weights.transpose(1, 2)[~mask] == 0.0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, R))
    changed = torch.where(mask[..., None], hidden, torch.randn(B, T, K) * 100)
    M2, weights2 = attention(changed, mask)
    assert torch.equal(M, M2) and torch.equal(weights, weights2)


def test_penalty_closed_forms():
    one_hot = torch.eye(T, dtype=F64)[:R][None]  # R hops on R distinct tokens: A Aᵀ = I
    assert hop_penalty(one_hot).item() == 0.0
    same = torch.zeros(1, R, T, dtype=F64)
    same[..., 0] = 1.0  # every hop on token 0: A Aᵀ = all ones, so P = R² − R
    assert hop_penalty(same).item() == R * R - R
    uniform = torch.full((1, R, T), 1 / T, dtype=F64)  # A Aᵀ = 1/T everywhere
    expected = R * (1 / T - 1) ** 2 + (R * R - R) / T**2
    torch.testing.assert_close(hop_penalty(uniform), torch.tensor([expected], dtype=F64))
    assert hop_overlap(same).item() == pytest.approx(1.0)
    assert hop_overlap(one_hot).item() == 0.0


@pytest.mark.parametrize("masked", [False, True])
def test_hand_derived_attention_equals_autograd(masked):
    hidden = torch.randn(B, T, K, dtype=F64, requires_grad=True)
    w1 = torch.randn(A, K, dtype=F64, requires_grad=True)
    w2 = torch.randn(R, A, dtype=F64, requires_grad=True)
    mask = _mask() if masked else None
    ours = StructuredFunction.apply(hidden, w1, w2, mask)
    ref = structured_reference(hidden, w1, w2, mask)
    assert_all_close(ours, ref, 1e-14, ["M", "A"])
    probes = [torch.randn_like(t) for t in ref]  # the loss reads M and A
    leaves = [hidden, w1, w2]
    assert_all_close(
        grads(ours, leaves, probes), grads(ref, leaves, probes), 1e-12, ["hidden", "W_s1", "W_s2"]
    )


def test_penalty_gradient_is_4_G_A_and_equals_autograd():
    weights = torch.softmax(torch.randn(B, R, T, dtype=F64), -1).requires_grad_()
    probe = torch.randn(B, dtype=F64)
    (ours,) = torch.autograd.grad((HopPenaltyFunction.apply(weights) * probe).sum(), weights)
    (ref,) = torch.autograd.grad((hop_penalty_reference(weights) * probe).sum(), weights)
    torch.testing.assert_close(ours, ref, atol=1e-13, rtol=0)
    a = weights.detach()
    gram = a @ a.transpose(1, 2) - torch.eye(R, dtype=F64)
    torch.testing.assert_close(ours, 4 * gram @ a * probe[:, None, None], atol=1e-13, rtol=0)


def test_attention_plus_penalty_through_the_module_equals_autograd():
    attention = StructuredSelfAttention(K, A, R, dtype=F64)
    hidden = torch.randn(B, T, K, dtype=F64, requires_grad=True)
    mask = _mask()
    M, weights = attention(hidden, mask)
    w1, w2 = attention.hidden_proj.weight, attention.hop_proj.weight
    M_ref, weights_ref = structured_reference(hidden, w1, w2, mask)
    probe = torch.randn_like(M)
    loss_ours = (M * probe).sum() + 0.3 * hop_penalty(weights).mean()
    loss_ref = (M_ref * probe).sum() + 0.3 * hop_penalty_reference(weights_ref).mean()
    leaves = [hidden, w1, w2]
    ours = torch.autograd.grad(loss_ours, leaves)
    ref = torch.autograd.grad(loss_ref, leaves)
    assert_all_close(ours, ref, 1e-12, ["hidden", "W_s1", "W_s2"])


def test_gradcheck_of_attention_and_penalty():
    hidden = torch.randn(2, 4, 3, dtype=F64, requires_grad=True)
    w1 = torch.randn(2, 3, dtype=F64, requires_grad=True)
    w2 = torch.randn(2, 2, dtype=F64, requires_grad=True)
    mask = lengths_to_mask(torch.tensor([4, 2]), 4)
    assert torch.autograd.gradcheck(
        lambda h, a, b: StructuredFunction.apply(h, a, b, mask), (hidden, w1, w2)
    )
    weights = torch.softmax(torch.randn(2, 3, 4, dtype=F64), -1).requires_grad_()
    assert torch.autograd.gradcheck(HopPenaltyFunction.apply, (weights,))
    assert torch.autograd.gradgradcheck(HopPenaltyFunction.apply, (weights,))


def test_bad_input_is_a_one_line_error():
    with pytest.raises(InputError, match="hops=0"):
        StructuredSelfAttention(K, A, 0)
    attention = StructuredSelfAttention(K, A, R)
    with pytest.raises(ShapeError, match="hidden_size=5"):
        attention(torch.randn(B, T, K + 1))
    with pytest.raises(InputError, match="no True position"):
        attention(torch.randn(B, T, K), torch.zeros(B, T, dtype=torch.bool))
    with pytest.raises(ShapeError, match=r"\(B, R, T\)"):
        hop_penalty(torch.randn(B, T))
