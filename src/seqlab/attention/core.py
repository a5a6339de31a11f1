r"""Masks, the masked softmax, and the softmax → context step every attention shares.

Given scores e (how well query i matches key j), a mask (True = a real key, False = padding)
and the keys h::

    α_ij = exp(e_ij) / Σ_{k kept} exp(e_ik)   for kept j,   α_ij = 0 exactly for masked j
    c_i  = Σ_j α_ij h_j

Shapes: scores (B, S) for one query per sequence or (B, T, S) for T queries; keys (B, S, K);
mask (B, S) bool, shared by every query of a sequence, or (B, T, S) for a mask per query (a
causal mask); weights α like the scores; context (B, K) or (B, T, K).

Backward, hand-derived (the additive, dot and general attentions reuse it). With
g_c = ∂E/∂c (B, T, K) and g_α = ∂E/∂α (B, T, S) from what reads the weights (a penalty,
the doubly stochastic regulariser), else zero::

    c = α h:            ∂E/∂α = g_α + g_c hᵀ,     ∂E/∂h = αᵀ g_c
    α = softmax(e):     ∂E/∂e_ij = α_ij (∂E/∂α_ij - Σ_k α_ik ∂E/∂α_ik)

A masked position has α_ij = 0, so it gets no gradient and its key has no effect at all.
:func:`softmax_context_reference` is the same forward through autograd, the tests' oracle.
"""

import operator

import torch
from torch import Tensor

from ..errors import InputError, ShapeError
from ..functions import reference_backward


def _shape(t: Tensor) -> str:
    return str(tuple(t.shape))


def lengths_to_mask(lengths: Tensor, max_len: int) -> Tensor:
    """lengths (B,) integers in [1, max_len] -> mask (B, S = max_len) bool, True at real positions.

    ``mask[b, j]`` is True for ``j < lengths[b]``; the tensor lives on ``lengths``' device.
    """
    if not isinstance(lengths, Tensor):
        raise InputError(f"lengths must be a Tensor, got {type(lengths).__name__}")
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise InputError(
            f"lengths must hold integers, got dtype {lengths.dtype}; e.g. lengths.long()"
        )
    if lengths.dim() != 1:
        raise ShapeError(f"lengths has shape {_shape(lengths)}; expected (B,), one per sequence")
    try:
        max_len = operator.index(max_len)
    except TypeError:
        raise InputError(f"max_len={max_len!r}: expected an integer >= 1") from None
    if max_len < 1:
        raise InputError(f"max_len={max_len}: expected an integer >= 1")
    if lengths.numel() > 0:
        lo, hi = int(lengths.min()), int(lengths.max())
        if lo < 1 or hi > max_len:
            raise InputError(
                f"lengths must lie in [1, {max_len}] (max_len); got values from {lo} to {hi}; "
                f"every sequence needs at least one position and no more than max_len"
            )
    positions = torch.arange(max_len, device=lengths.device)  # (S,)
    return positions < lengths[:, None]  # (B, S)


def check_mask(mask: Tensor, B: int, T: int | None, S: int, device, against: str) -> None:
    """Checks a mask's type, dtype, shape ((B, S), or (B, T, S) when T is given) and device."""
    if not isinstance(mask, Tensor):
        raise InputError(f"mask must be a bool Tensor or None, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise InputError(
            f"mask has dtype {mask.dtype}; expected torch.bool (True = a real position), "
            f"e.g. mask.bool() or lengths_to_mask(lengths, S)"
        )
    shapes = [(B, S)] + ([(B, T, S)] if T is not None else [])
    if tuple(mask.shape) not in shapes:
        expected = " or ".join(str(s) for s in shapes)
        raise ShapeError(
            f"mask has shape {_shape(mask)}; expected {expected} from {against}: "
            f"one row per sequence, one column per key"
        )
    if mask.device != device:
        raise InputError(
            f"mask is on {mask.device} but {against.split()[0]} is on {device}; "
            f"move it, e.g. mask.to('{device}')"
        )


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over the last dim of scores (B, S) or (B, T, S), with masked positions at 0.

    ``mask`` (B, S) bool (True = keep), broadcast over T, or (B, T, S); ``None`` keeps all.
    Masked positions get exactly 0.0 and every row sums to 1; a row with no True position
    raises :class:`~seqlab.errors.InputError`. Differentiable by autograd.
    """
    if not isinstance(scores, Tensor) or not scores.is_floating_point():
        raise InputError(
            f"scores must be a floating-point Tensor, got {getattr(scores, 'dtype', type(scores))}"
        )
    if scores.dim() not in (2, 3):
        raise ShapeError(f"scores must be 2-D (B, S) or 3-D (B, T, S); got shape {_shape(scores)}")
    if scores.shape[-1] == 0:
        raise ShapeError(f"scores {_shape(scores)} have no positions (S = 0); give at least one")
    if mask is None:
        return torch.softmax(scores, dim=-1)
    B, S, T = scores.shape[0], scores.shape[-1], scores.shape[1] if scores.dim() == 3 else None
    check_mask(mask, B, T, S, scores.device, f"scores {_shape(scores)}")
    empty = ~mask.any(-1)  # (B,) or (B, T): indices as the caller wrote the mask
    if bool(empty.any()):
        first = empty.nonzero()[0].tolist()
        raise InputError(
            f"mask has {int(empty.sum())} row(s) with no True position (the first at index "
            f"{first}): every query needs at least one key to attend to; check the lengths "
            f"(each must be >= 1)"
        )
    keep = mask if mask.dim() == scores.dim() else mask.unsqueeze(-2)  # broadcast over T
    # exp(-inf - max) is exactly 0, so masked positions come out as 0.0, not merely tiny.
    return torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)


def softmax_context_forward(scores: Tensor, keys: Tensor, mask: Tensor | None):
    """scores (B, T, S), keys (B, S, K) -> (context (B, T, K), weights (B, T, S))."""
    # α_ij = softmax_j(e_ij) over the kept j
    weights = masked_softmax(scores, mask)
    # c_i = Σ_j α_ij h_j
    context = torch.bmm(weights, keys)  # (B, T, K)
    return context, weights


def softmax_context_backward(d_context, d_weights, weights, keys, needs_keys_grad=True):
    """Hand-derived; d_context (B, T, K), d_weights (B, T, S) or None -> (d_scores, d_keys)."""
    # c = α h
    d_alpha = torch.bmm(d_context, keys.transpose(1, 2))  # (B, T, S): g_c hᵀ
    if d_weights is not None:
        d_alpha = d_alpha + d_weights
    d_keys = torch.bmm(weights.transpose(1, 2), d_context) if needs_keys_grad else None  # (B,S,K)
    # α = softmax(e):  ∂E/∂e_ij = α_ij (∂E/∂α_ij - Σ_k α_ik ∂E/∂α_ik)
    d_scores = weights * (d_alpha - (weights * d_alpha).sum(-1, keepdim=True))  # (B, T, S)
    return d_scores, d_keys


class SoftmaxContextFunction(torch.autograd.Function):
    """(scores (B, T, S), keys (B, S, K), mask) -> (context (B, T, K), weights (B, T, S))."""

    @staticmethod
    def forward(ctx, scores, keys, mask):
        context, weights = softmax_context_forward(scores, keys, mask)
        # scores (the size of weights) only for a backward with create_graph=True, which
        # differentiates the reference from them
        ctx.save_for_backward(scores, keys, mask, weights)
        ctx.set_materialize_grads(False)  # weights read by nothing: d_weights arrives as None
        return context, weights

    @staticmethod
    def backward(ctx, d_context, d_weights):
        scores, keys, mask, weights = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a gradient that differentiates again
            inputs, grads = (scores, keys, mask), (d_context, d_weights)
            return tuple(reference_backward(softmax_context_reference, inputs, grads))
        if d_context is None:
            d_context = weights.new_zeros(*weights.shape[:2], keys.shape[-1])
        d_scores, d_keys = softmax_context_backward(
            d_context, d_weights, weights, keys, ctx.needs_input_grad[1]
        )
        return d_scores, d_keys, None


def as_queries(x: Tensor) -> Tensor:
    """(B, Q) -> (B, 1, Q); (B, T, Q) unchanged: the kernels see T queries per sequence."""
    return x.unsqueeze(1) if x.dim() == 2 else x


def softmax_context(scores: Tensor, keys: Tensor, mask: Tensor | None):
    """Hand-derived: scores (B, S) or (B, T, S) -> (context (B[, T], K), weights like scores)."""
    context, weights = SoftmaxContextFunction.apply(as_queries(scores), keys, mask)
    if scores.dim() == 2:
        return context.squeeze(1), weights.squeeze(1)
    return context, weights


def softmax_context_reference(scores: Tensor, keys: Tensor, mask: Tensor | None):
    """Autograd reference of :func:`softmax_context`, one query row at a time."""
    weights = masked_softmax(scores, mask)
    rows = weights.unsqueeze(1) if weights.dim() == 2 else weights  # (B, T, S)
    context = torch.stack(
        [(rows[:, i, :, None] * keys).sum(1) for i in range(rows.shape[1])], 1
    )  # (B, T, K)
    return (context.squeeze(1) if scores.dim() == 2 else context), weights


def check_inputs(name, query, keys, mask, query_size: int | None, key_size: int | None, like):
    """Checks what an attention module's forward gets. ``like`` is a parameter, or the query
    for the parameter-free dot attention; ``query_size=None`` asks for query size == key size."""
    for arg, t in (("query", query), ("keys", keys)):
        if not isinstance(t, Tensor):
            raise InputError(f"{arg} must be a Tensor, got {type(t).__name__}")
    if query.dim() not in (2, 3):
        raise ShapeError(f"query must be 2-D (B, Q) or 3-D (B, T, Q); got shape {_shape(query)}")
    if keys.dim() != 3:
        raise ShapeError(f"keys must be 3-D (B, S, K); got shape {_shape(keys)}")
    if query_size is None and query.shape[-1] != keys.shape[-1]:
        raise ShapeError(
            f"query has {query.shape[-1]} features (shape {_shape(query)}) but keys have "
            f"{keys.shape[-1]} (shape {_shape(keys)}); the {name} needs them equal "
            f"(GeneralAttention scores sizes that differ)"
        )
    if query_size is not None and query.shape[-1] != query_size:
        raise ShapeError(
            f"query has {query.shape[-1]} features (last dim of shape {_shape(query)}) but "
            f"the {name} was built with query_size={query_size}"
        )
    if key_size is not None and keys.shape[-1] != key_size:
        raise ShapeError(
            f"keys has {keys.shape[-1]} features (last dim of shape {_shape(keys)}) but "
            f"the {name} was built with key_size={key_size}"
        )
    if keys.shape[1] == 0:
        raise ShapeError(f"keys {_shape(keys)} has no positions (S = 0); give at least one key")
    if query.shape[0] != keys.shape[0]:
        raise ShapeError(
            f"query has batch {query.shape[0]} (shape {_shape(query)}) but keys has batch "
            f"{keys.shape[0]} (shape {_shape(keys)}); give one query row per source sequence "
            f"(for beams repeat the keys, e.g. keys.repeat_interleave(beam, 0))"
        )
    for arg, t in (("query", query), ("keys", keys)):
        if t.dtype != like.dtype or t.device != like.device:
            raise InputError(
                f"{arg} is {t.dtype} on {t.device} but the {name} computes in {like.dtype} on "
                f"{like.device}; convert it, e.g. "
                f"{arg}.to(device='{like.device}', dtype={like.dtype})"
            )
    if mask is not None:
        T = query.shape[1] if query.dim() == 3 else None
        B, S = keys.shape[:2]
        check_mask(mask, B, T, S, keys.device, f"keys {_shape(keys)} (B, S, K)")
