r"""Structured self-attention (Lin et al. 2017): r hops over a sentence's hidden states, and the
penalty that keeps the hops apart; forward and hand-derived backward of both.

Equations (Lin et al. 2017, "A Structured Self-Attentive Sentence Embedding"; H the n hidden
states of a bidirectional LSTM, 2u features each)::

    A = softmax(W_s2 tanh(W_s1 Hᵀ))      W_s1 = hidden_proj.weight (d_a, 2u)   A (r, n)
    M = A H                              W_s2 = hop_proj.weight    (r, d_a)    M (r, 2u)
    P = ‖A Aᵀ − I‖²_F                    the penalty, squared as the paper writes it

The softmax runs over the n positions of each of the r rows (hops); padding positions are
masked out of it and get weight exactly 0. Shapes here: H (B, T, K) with K = 2u, a mask (B, T)
bool (True = a real token), A (B, R, T), M (B, R, K), P (B,).

Backward, hand-derived. With ∂E/∂M and ∂E/∂A (what reads the weights, e.g. the penalty) given,
:mod:`.core` turns ``M = A H``, ``A = softmax(e)`` into ∂E/∂e (B, R, T) and ∂E/∂H; then, with
Z = tanh(H W_s1ᵀ) (B, T, d_a)::

    e = W_s2 Zᵀ:          ∂E/∂W_s2 = Σ_b ∂E/∂e_b Z_b,       ∂E/∂Z = (∂E/∂e)ᵀ W_s2
    Z = tanh(H W_s1ᵀ):    ∂E/∂(H W_s1ᵀ) = ∂E/∂Z ⊙ (1 − Z²)
                          ∂E/∂W_s1 = Σ_b (∂E/∂(H W_s1ᵀ))_bᵀ H_b,   ∂E/∂H += ∂E/∂(H W_s1ᵀ) W_s1

and the penalty, with G = A Aᵀ − I (symmetric)::

    P = Σ_ij G_ij²:      ∂P/∂G = 2 G
    G = A Aᵀ − I:        ∂P/∂A = ∂P/∂G A + (∂P/∂G)ᵀ A = 4 (A Aᵀ − I) A

Z is recomputed in the backward rather than saved (one GEMM and one tanh). The penalty's
gradient at a padding column is 4 G A[:, j] = 0, and the softmax's backward gives it none
either. :func:`structured_reference` and :func:`hop_penalty_reference` are the same forward
through autograd, the tests' oracles.
"""

import torch
from torch import Tensor, nn

from ..errors import InputError, ShapeError
from ..functions import reference_backward
from .core import check_mask, softmax_context_backward, softmax_context_forward


def _scores(hidden: Tensor, w1: Tensor, w2: Tensor) -> tuple[Tensor, Tensor]:
    """H (B, T, K), W_s1 (A, K), W_s2 (R, A) -> Z (B, T, A), e (B, R, T)."""
    # Z = tanh(H W_s1ᵀ)
    z = torch.tanh(torch.matmul(hidden, w1.t()))  # (B, T, A)
    # e = W_s2 Zᵀ
    return z, torch.matmul(z, w2.t()).transpose(1, 2)  # (B, R, T)


def structured_forward(hidden, w1, w2, mask):
    """H (B, T, K), W_s1, W_s2, mask -> (M (B, R, K), A (B, R, T))."""
    _, scores = _scores(hidden, w1, w2)
    # A = softmax(e) over the kept positions;  M = A H
    return softmax_context_forward(scores, hidden, mask)


def structured_backward(d_context, d_weights, hidden, w1, w2, weights, needs):
    """Hand-derived; returns (dH, dW_s1, dW_s2), None where ``needs`` is False."""
    # M = A H, A = softmax(e)
    d_scores, d_hidden = softmax_context_backward(d_context, d_weights, weights, hidden, True)
    z, _ = _scores(hidden, w1, w2)  # recomputed, (B, T, A)
    # e = W_s2 Zᵀ
    d_w2 = torch.einsum("brt,bta->ra", d_scores, z) if needs[2] else None  # (R, A)
    d_z = torch.matmul(d_scores.transpose(1, 2), w2)  # (B, T, A)
    # Z = tanh(H W_s1ᵀ):  ∂E/∂(H W_s1ᵀ) = ∂E/∂Z ⊙ (1 − Z²)
    d_pre = torch.ops.aten.tanh_backward(d_z, z)  # (B, T, A)
    d_w1 = torch.einsum("bta,btk->ak", d_pre, hidden) if needs[1] else None  # (A, K)
    if needs[0]:
        d_hidden = d_hidden + torch.matmul(d_pre, w1)  # (B, T, K)
    else:
        d_hidden = None
    return d_hidden, d_w1, d_w2


class StructuredFunction(torch.autograd.Function):
    """(H (B, T, K), W_s1 (A, K), W_s2 (R, A), mask (B, T)) -> (M (B, R, K), A (B, R, T))."""

    @staticmethod
    def forward(ctx, hidden, w1, w2, mask):
        context, weights = structured_forward(hidden, w1, w2, mask)
        ctx.save_for_backward(hidden, w1, w2, mask, weights)
        ctx.set_materialize_grads(False)  # weights read by nothing: d_weights arrives as None
        return context, weights

    @staticmethod
    def backward(ctx, d_context, d_weights):
        *inputs, weights = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a gradient that differentiates again
            return tuple(reference_backward(structured_reference, inputs, (d_context, d_weights)))
        hidden, w1, w2, _ = inputs
        if d_context is None:
            d_context = weights.new_zeros(*weights.shape[:2], hidden.shape[-1])
        return *structured_backward(
            d_context, d_weights, hidden, w1, w2, weights, ctx.needs_input_grad[:3]
        ), None


def structured_reference(hidden, w1, w2, mask):
    """Autograd reference of :class:`StructuredFunction`, one hop at a time."""
    z = torch.tanh(hidden @ w1.t())  # (B, T, A)
    weights = []
    for k in range(w2.shape[0]):
        e = z @ w2[k]  # (B, T)
        e = e if mask is None else e.masked_fill(~mask, float("-inf"))
        weights.append(torch.softmax(e, dim=-1))
    a = torch.stack(weights, 1)  # (B, R, T)
    return a @ hidden, a


def hop_penalty_forward(weights: Tensor) -> Tensor:
    """A (B, R, T) -> P = ‖A Aᵀ − I‖²_F per sequence, (B,)."""
    eye = torch.eye(weights.shape[1], dtype=weights.dtype, device=weights.device)
    gram = torch.bmm(weights, weights.transpose(1, 2)) - eye  # (B, R, R): G = A Aᵀ − I
    return gram.pow(2).sum((1, 2))


class HopPenaltyFunction(torch.autograd.Function):
    """A (B, R, T) -> P (B,) with the hand-derived ∂P/∂A = 4 (A Aᵀ − I) A."""

    @staticmethod
    def forward(ctx, weights):
        ctx.save_for_backward(weights)
        return hop_penalty_forward(weights)

    @staticmethod
    def backward(ctx, d_penalty):
        (weights,) = ctx.saved_tensors
        if torch.is_grad_enabled():
            return tuple(reference_backward(_penalty_as_tuple, (weights,), (d_penalty,)))
        eye = torch.eye(weights.shape[1], dtype=weights.dtype, device=weights.device)
        gram = torch.bmm(weights, weights.transpose(1, 2)) - eye  # (B, R, R)
        # P = Σ_ij G_ij², G = A Aᵀ − I:  ∂P/∂A = 4 G A
        return 4.0 * torch.bmm(gram, weights) * d_penalty[:, None, None]


def _penalty_as_tuple(weights):
    return (hop_penalty_reference(weights),)


def hop_penalty_reference(weights: Tensor) -> Tensor:
    """Autograd reference of the penalty: Σ_ij (Σ_t A_it A_jt − δ_ij)² per sequence, (B,)."""
    R = weights.shape[1]
    total = weights.new_zeros(weights.shape[0])
    for i in range(R):
        for j in range(R):
            g = (weights[:, i] * weights[:, j]).sum(-1) - (1.0 if i == j else 0.0)
            total = total + g * g
    return total


def hop_penalty(weights: Tensor) -> Tensor:
    """``‖A Aᵀ − I‖²_F`` of each sequence's weights A (B, R, T) -> (B,), hand-derived backward.

    Zero when the hops are one-hot on distinct positions; ``R² − R`` when all R hops are the
    same one-hot row. Lin et al. add ``C`` times its batch mean to the loss.
    """
    if not isinstance(weights, Tensor) or weights.dim() != 3 or not weights.is_floating_point():
        shape = tuple(weights.shape) if isinstance(weights, Tensor) else type(weights).__name__
        raise ShapeError(f"weights has shape {shape}; expected a float tensor (B, R, T)")
    return HopPenaltyFunction.apply(weights)


def hop_overlap(weights: Tensor) -> Tensor:
    """Mean pairwise overlap of the hops, ``Σ_t A_it A_jt / (‖A_i‖ ‖A_j‖)`` over pairs i < j,
    per sequence (B,): 1 when every hop attends alike, 0 when no two share a position. A
    single hop has no pair: NaN."""
    unit = weights / weights.norm(dim=-1, keepdim=True).clamp_min(1e-12)  # (B, R, T)
    cos = torch.bmm(unit, unit.transpose(1, 2))  # (B, R, R)
    R = weights.shape[1]
    if R < 2:
        return weights.new_full((weights.shape[0],), float("nan"))
    upper = torch.triu(torch.ones(R, R, dtype=torch.bool, device=weights.device), 1)
    return cos[:, upper].mean(-1)


class StructuredSelfAttention(nn.Module):
    r"""Lin et al.'s r-hop self-attention: ``A = softmax(W_s2 tanh(W_s1 Hᵀ))``, ``M = A H``,
    with a hand-derived backward (module docstring).

    Args:
        hidden_size: K, the features of each hidden state (2u for a bidirectional LSTM).
        attention_size: d_a. hops: r, the rows of A. device, dtype: of the parameters.

    Inputs: ``hidden`` (B, T, K), ``mask`` (B, T) bool or None (True = a real token).

    Outputs: ``(M, A)``: the sentence embedding M (B, R, K) and the weights A (B, R, T); padding
    positions get weight exactly 0. :func:`hop_penalty` turns A into the penalty.

    Attributes: ``hidden_proj`` = ``nn.Linear(K, d_a, bias=False)`` (W_s1), ``hop_proj`` =
    ``nn.Linear(d_a, r, bias=False)`` (W_s2), as in the paper (no biases).

    Example::

        >>> attention = seqlab.attention.StructuredSelfAttention(6, attention_size=5, hops=3)
        >>> mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]]).bool()
        >>> M, A = attention(torch.randn(2, 4, 6), mask)
        >>> M.shape, A.shape, A[1, :, 2:].abs().sum().item()
        (torch.Size([2, 3, 6]), torch.Size([2, 3, 4]), 0.0)
    """

    def __init__(
        self, hidden_size: int, attention_size: int, hops: int, *, device=None, dtype=None
    ):
        super().__init__()
        for name, value in (
            ("hidden_size", hidden_size),
            ("attention_size", attention_size),
            ("hops", hops),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name}={value!r}: expected an integer >= 1")
        self.hidden_size, self.attention_size, self.hops = hidden_size, attention_size, hops
        kw = {"device": device, "dtype": dtype}
        self.hidden_proj = nn.Linear(hidden_size, attention_size, bias=False, **kw)
        self.hop_proj = nn.Linear(attention_size, hops, bias=False, **kw)

    def forward(self, hidden: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """hidden (B, T, K), mask (B, T) -> (M (B, R, K), A (B, R, T))."""
        w1 = self.hidden_proj.weight
        if not isinstance(hidden, Tensor) or hidden.dim() != 3:
            shape = tuple(hidden.shape) if isinstance(hidden, Tensor) else type(hidden).__name__
            raise ShapeError(f"hidden has shape {shape}; expected (B, T, K)")
        if hidden.shape[-1] != self.hidden_size:
            raise ShapeError(
                f"hidden has {hidden.shape[-1]} features (shape {tuple(hidden.shape)}) but the "
                f"attention was built with hidden_size={self.hidden_size}"
            )
        if hidden.shape[1] == 0:
            raise ShapeError(f"hidden {tuple(hidden.shape)} has no positions (T = 0)")
        if hidden.dtype != w1.dtype or hidden.device != w1.device:
            raise InputError(
                f"hidden is {hidden.dtype} on {hidden.device} but the attention computes in "
                f"{w1.dtype} on {w1.device}; convert it, e.g. hidden.to({w1.dtype})"
            )
        if mask is not None:
            check_mask(
                mask,
                hidden.shape[0],
                None,
                hidden.shape[1],
                hidden.device,
                f"hidden {tuple(hidden.shape)} (B, T, K)",
            )
            if not bool(mask.any(-1).all()):
                raise InputError(
                    "mask has a row with no True position; every sequence needs a "
                    "token to attend to (lengths >= 1)"
                )
        return StructuredFunction.apply(hidden, w1, self.hop_proj.weight, mask)

    def extra_repr(self) -> str:
        return (
            f"hidden_size={self.hidden_size}, attention_size={self.attention_size}, "
            f"hops={self.hops}"
        )
