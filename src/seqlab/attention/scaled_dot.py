r"""Scaled dot-product attention over heads, with its hand-derived backward.

Equations, per batch row b and head h (Vaswani et al. 2017, eq. 1), q_i the queries, k_j the
keys, v_j the values, d their size, M the additive mask (0 where allowed, -inf where not)::

    s_ij = q_iᵀ k_j / √d + M_ij                       scores       (B, H, T, S)
    a_ij = exp(s_ij) / Σ_k exp(s_ik)                  weights A    (B, H, T, S)
    ã_ij = a_ij · z_ij / (1 - p)                      dropout, z_ij ~ Bernoulli(1 - p)
    o_i  = Σ_j ã_ij v_j                               output O     (B, H, T, d_v)

Backward, derived by hand (dX = ∂E/∂X; dÃ_extra from whatever reads the returned weights)::

    O = Ã V:          dV = Ãᵀ dO                      dÃ = dO Vᵀ (+ dÃ_extra)
    Ã = A ⊙ Z/(1-p):  dA = dÃ ⊙ Z/(1-p)
    A = softmax(S):   dS = A ⊙ (dA − rowsum(dA ⊙ A))
    S = QKᵀ/√d + M:   dQ = dS K/√d                    dK = dSᵀ Q/√d     dM = dS (summed
                                                      over the dimensions M broadcasts over)

A masked position has a_ij = 0 exactly, so its value gets nothing from that query and its
score gets exactly zero gradient. The backward keeps Q, K, V and A (plus the dropout draw Z
as bool when p > 0): no more than autograd keeps over the same equations (Q, K, A, Ã, Z, V).

Masks use :class:`torch.nn.MultiheadAttention`'s conventions:

- ``attn_mask``: bool, **True = NOT allowed** (masked out), or floating point, **added** to the
  scores (``-inf`` masks out). Shape (T, S); (B·H, T, S) as torch's module takes it; or 4-D
  broadcastable to (B, H, T, S).
- ``key_padding_mask``: (B, S), bool **True = padding** (ignored), or floating point, added.
- ``is_causal``: query i may see key j only when j ≤ i + (S − T), the query block aligned to
  the end of the keys: for T = S the usual lower triangle (as ``F.scaled_dot_product_attention``),
  for T < S the last T positions of a KV cache (where torch's top-left alignment would hide the
  cached keys from the new queries).

All of them may be given together; a position is allowed when every mask allows it.
A query row whose keys are all masked gets a **zero row**: zero weights, zero output and zero
gradient (documented choice; never NaN — torch.nn.MultiheadAttention gives NaN there when it
returns the weights).
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError, ShapeError
from ..functions import reference_backward, tracing

BACKENDS = ("auto", "seqlab", "torch")


def _shape(t: Tensor) -> str:
    return str(tuple(t.shape))


def _check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor):
            raise InputError(f"{name} must be a Tensor, got {type(t).__name__}")
        if t.dim() != 4:
            raise ShapeError(
                f"{name} has shape {_shape(t)}; expected 4-D (B, H, {'T' if name == 'q' else 'S'}"
                f", d): batch, heads, positions, features per head"
            )
        if not t.is_floating_point():
            raise InputError(f"{name} has dtype {t.dtype}; expected a floating-point tensor")
        if t.dtype != q.dtype or t.device != q.device:
            raise InputError(
                f"{name} is {t.dtype} on {t.device} but q is {q.dtype} on {q.device}; "
                f"convert it, e.g. {name}.to(q)"
            )
    if k.shape[:2] != q.shape[:2] or v.shape[:2] != q.shape[:2]:
        raise ShapeError(
            f"q {_shape(q)}, k {_shape(k)} and v {_shape(v)} must share (B, H), the first two dims"
        )
    if k.shape[2] != v.shape[2]:
        raise ShapeError(f"k {_shape(k)} and v {_shape(v)} must have the same S (dim 2)")
    if k.shape[3] != q.shape[3]:
        raise ShapeError(f"q {_shape(q)} and k {_shape(k)} must have the same d (last dim)")
    if k.shape[2] == 0:
        raise ShapeError(f"k {_shape(k)} has no positions (S = 0); give at least one key")


def _check_mask_dtype(name: str, mask: Tensor, q: Tensor) -> None:
    if not isinstance(mask, Tensor):
        raise InputError(f"{name} must be a Tensor or None, got {type(mask).__name__}")
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise InputError(
            f"{name} has dtype {mask.dtype}; expected torch.bool (True = masked out) or a "
            f"float mask added to the scores, e.g. {name}.bool()"
        )
    if mask.is_floating_point() and mask.dtype != q.dtype:
        raise InputError(
            f"{name} has dtype {mask.dtype} but q is {q.dtype}; e.g. {name}.to(q.dtype)"
        )
    if mask.device != q.device:
        raise InputError(f"{name} is on {mask.device} but q is on {q.device}; e.g. {name}.to(q)")


def _attn_mask_4d(mask: Tensor, B: int, H: int, T: int, S: int) -> Tensor:
    """attn_mask (T, S), (B·H, T, S) or 4-D broadcastable to (B, H, T, S) -> a 4-D view."""
    shape = tuple(mask.shape)
    if mask.dim() == 2 and shape == (T, S):
        return mask.view(1, 1, T, S)
    if mask.dim() == 3 and shape == (B * H, T, S):
        return mask.view(B, H, T, S)
    if mask.dim() == 4 and all(m in (1, n) for m, n in zip(shape, (B, H, T, S), strict=True)):
        return mask
    raise ShapeError(
        f"attn_mask has shape {shape}; expected ({T}, {S}) = (T, S), ({B * H}, {T}, {S}) = "
        f"(B·H, T, S), or 4-D broadcastable to ({B}, {H}, {T}, {S}) = (B, H, T, S)"
    )


def causal_mask(T: int, S: int, device=None) -> Tensor:
    """(T, S) bool, True where query i may NOT see key j: j > i + (S − T) (end-aligned)."""
    rows = torch.arange(T, device=device)[:, None] + (S - T)
    return torch.arange(S, device=device)[None, :] > rows


def merge_masks(q, k, attn_mask, key_padding_mask, is_causal):
    """All masks as one, broadcastable to (B, H, T, S): bool (True = masked out) when every mask
    given is bool, else float (added to the scores); ``None`` when there is none."""
    B, H, T, S = q.shape[0], q.shape[1], q.shape[2], k.shape[2]
    masks = []
    if attn_mask is not None:
        _check_mask_dtype("attn_mask", attn_mask, q)
        masks.append(_attn_mask_4d(attn_mask, B, H, T, S))
    if key_padding_mask is not None:
        _check_mask_dtype("key_padding_mask", key_padding_mask, q)
        if tuple(key_padding_mask.shape) != (B, S):
            raise ShapeError(
                f"key_padding_mask has shape {_shape(key_padding_mask)}; expected ({B}, {S}) = "
                f"(B, S), one row per sequence, True at padded keys"
            )
        masks.append(key_padding_mask.view(B, 1, 1, S))
    if is_causal:
        masks.append(causal_mask(T, S, q.device).view(1, 1, T, S))
    if not masks:
        return None
    if all(m.dtype == torch.bool for m in masks):
        merged = masks[0]
        for m in masks[1:]:
            merged = merged | m
        return merged
    merged = None
    for m in masks:
        additive = (
            m.new_zeros(m.shape, dtype=q.dtype).masked_fill_(m, -math.inf)
            if (m.dtype == torch.bool)
            else m
        )
        merged = additive if merged is None else merged + additive
    return merged


def empty_rows(mask: Tensor | None) -> Tensor | None:
    """(…, T, 1) bool, True at query rows whose keys are all masked out; None when none is."""
    if mask is None:
        return None
    blocked = mask if mask.dtype == torch.bool else mask == -math.inf
    empty = blocked.all(-1, keepdim=True)
    return empty if bool(empty.any()) else None


def attention_reference(q, k, v, mask, keep=None, p=0.0, empty=None):
    """Plain autograd over the equations: the tests' oracle and the create_graph backward.

    mask as :func:`merge_masks` gives it; keep (B, H, T, S) bool the dropout draw Z; empty as
    :func:`empty_rows` gives it (those rows are let through, then zeroed, so no NaN appears).
    Returns (output (B, H, T, d_v), weights after dropout (B, H, T, S)).
    """
    scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # s = q kᵀ/√d
    if mask is not None:
        if empty is not None:
            mask = mask.masked_fill(empty, False if mask.dtype == torch.bool else 0.0)
        scores = scores.masked_fill(mask, -math.inf) if mask.dtype == torch.bool else scores + mask
    weights = torch.softmax(scores, dim=-1)  # a = softmax(s)
    if empty is not None:
        weights = weights.masked_fill(empty, 0.0)
    if keep is not None:
        weights = weights * keep / (1.0 - p)  # ã = a z/(1-p)
    return torch.matmul(weights, v), weights  # o = ã v


def _torch_sdpa(q, k, v, mask, p, empty):
    """F.scaled_dot_product_attention, whose bool masks mean True = allowed (the inverse)."""
    if mask is not None and empty is not None:  # let the empty rows through, zero them after
        mask = mask.masked_fill(empty, False if mask.dtype == torch.bool else 0.0)
    if mask is not None and mask.dtype == torch.bool:
        mask = ~mask
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
    return out if empty is None else out.masked_fill(empty, 0.0)


def _is_the_causal_mask(mask, T: int, S: int) -> bool:
    """Whether ``mask`` is exactly the (T, S) causal mask, bool or float (0 / -inf)."""
    if not isinstance(mask, Tensor) or tuple(mask.shape) != (T, S) or mask.requires_grad:
        return False  # a mask that learns keeps its place in the graph
    blocked = causal_mask(T, S, mask.device)
    if mask.dtype == torch.bool:
        return torch.equal(mask, blocked)
    return (
        mask.is_floating_point()
        and torch.equal(mask == -math.inf, blocked)
        and (not bool(mask.masked_select(~blocked).any()))
    )


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask: Tensor | None = None,
    key_padding_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    need_weights: bool = False,
    backend: str = "auto",
    training: bool = True,
) -> tuple[Tensor, Tensor | None]:
    """softmax(Q Kᵀ/√d + mask) V over heads -> (output (B, H, T, d_v), weights or None).

    Args:
        q: (B, H, T, d) queries; k: (B, H, S, d) keys; v: (B, H, S, d_v) values.
        attn_mask: bool, True = NOT allowed, or float added to the scores; (T, S),
            (B·H, T, S), or 4-D broadcastable to (B, H, T, S).
        key_padding_mask: (B, S) bool, True = padding (ignored), or float added.
        dropout_p: probability of dropping a weight (applied when ``training``).
        is_causal: query i sees keys j ≤ i + S − T (end-aligned; the lower triangle for T = S).
        need_weights: also return the weights (B, H, T, S), after dropout as torch's module.
        backend: ``"seqlab"`` (the hand-derived backward), ``"torch"``
            (``F.scaled_dot_product_attention``; it cannot return weights, so ``need_weights``
            runs the explicit path), or ``"auto"`` (torch's fused kernel unless the weights are
            needed, then seqlab's).
        training: dropout only when True.

    A query row with every key masked out gets zero weights and a zero output (never NaN).

    Example::

        >>> from seqlab.attention import scaled_dot_product_attention
        >>> q, k, v = torch.randn(2, 4, 5, 8), torch.randn(2, 4, 7, 8), torch.randn(2, 4, 7, 8)
        >>> pad = torch.tensor([[False] * 7, [False] * 5 + [True] * 2])  # (B, S) True = pad
        >>> out, w = scaled_dot_product_attention(q, k, v, key_padding_mask=pad,
        ...                                       need_weights=True, backend="seqlab")
        >>> out.shape, w.shape, float(w[1, :, :, 5:].abs().max())
        (torch.Size([2, 4, 5, 8]), torch.Size([2, 4, 5, 7]), 0.0)
    """
    if backend not in BACKENDS:
        raise InputError(f"backend={backend!r} is not one of {BACKENDS}")
    _check_qkv(q, k, v)
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float)):
        raise InputError(f"dropout_p={dropout_p!r}: expected a number in [0, 1)")
    if not 0.0 <= dropout_p < 1.0:
        raise InputError(f"dropout_p={dropout_p}: expected a probability in [0, 1)")
    p = float(dropout_p) if training else 0.0
    T, S = q.shape[2], k.shape[2]
    is_causal = bool(is_causal) and T > 1  # one query at the end of the keys sees them all
    if is_causal and _is_the_causal_mask(attn_mask, T, S):
        attn_mask = None  # given as torch's modules take it, a copy of what is_causal applies
    if backend == "seqlab" or need_weights:
        mask = merge_masks(q, k, attn_mask, key_padding_mask, is_causal)
        return _hand(q, k, v, mask, p, empty_rows(mask), need_weights)
    if is_causal and T == S and attn_mask is None and key_padding_mask is None:
        # the fused kernel skips the blocks above the diagonal rather than reading a mask
        return F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True), None
    mask = merge_masks(q, k, attn_mask, key_padding_mask, is_causal)
    return _torch_sdpa(q, k, v, mask, p, empty_rows(mask)), None


def _hand(q, k, v, mask, p, empty, need_weights):
    """The explicit path: the hand-derived Function on contiguous heads, Z drawn here."""
    keep = None
    if p > 0.0:
        shape = (*q.shape[:3], k.shape[2])  # (B, H, T, S)
        keep = torch.empty(shape, dtype=torch.bool, device=q.device).bernoulli_(1.0 - p)
    if tracing():  # a tracer records ops: the plain equations, not the Function's in-place ones
        return _reference_outputs(q, k, v, mask, keep, p, empty, need_weights)
    # heads split from a projection are strided views: one copy each (autograd's matmul
    # makes the same), so the Function's batched GEMMs read plain (B·H, n, d) blocks
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    return ScaledDotProductFunction.apply(q, k, v, mask, keep, p, empty, need_weights)


def _reference_outputs(q, k, v, mask, keep, p, empty, need_weights):
    out, weights = attention_reference(q, k, v, mask, keep, p, empty)
    return out, (weights if need_weights else None)


def _batches(t: Tensor) -> Tensor:
    """(B, H, n, d) contiguous -> the (B·H, n, d) view the batched GEMMs take."""
    return t.view(t.shape[0] * t.shape[1], t.shape[2], t.shape[3])


class ScaledDotProductFunction(torch.autograd.Function):
    """(q, k, v, mask, keep, p, empty, need_weights) -> (output (B, H, T, d_v), weights or None).

    q, k, v contiguous (B, H, ·, ·); mask from :func:`merge_masks`; keep the dropout draw Z
    (B, H, T, S) bool or None; empty from :func:`empty_rows`. Saves Q, K, V, A (and Z, and the
    mask, which its caller holds anyway); the backward is the one in the module docstring.
    """

    @staticmethod
    def forward(ctx, q, k, v, mask, keep, p, empty, need_weights):
        B, H, T, d = q.shape
        S = k.shape[2]
        # s = q kᵀ/√d: the scale rides in the GEMM
        scores = torch.baddbmm(
            q.new_empty(()), _batches(q), _batches(k).transpose(1, 2), beta=0.0, alpha=d**-0.5
        )  # (B·H, T, S)
        scores4 = scores.view(B, H, T, S)
        if mask is not None:  # s += M
            if mask.dtype == torch.bool:
                scores4.masked_fill_(mask, -math.inf)
            else:
                scores4.add_(mask)
        # a = softmax(s), in place: the scores are not needed again
        weights = torch.softmax(scores, dim=-1, out=scores)  # (B·H, T, S)
        if empty is not None:  # rows of -inf only came out NaN: the documented zero row
            scores4.masked_fill_(empty, 0.0)
        dropped = weights
        if keep is not None:  # ã = a z/(1-p)
            dropped = (weights * _batches(keep)).mul_(1.0 / (1.0 - p))
        out = torch.bmm(dropped, _batches(v)).view(B, H, T, v.shape[3])  # o = ã v
        ctx.save_for_backward(q, k, v, weights, keep, mask)
        ctx.p, ctx.empty, ctx.need_weights = p, empty, need_weights
        ctx.set_materialize_grads(False)  # weights read by nothing: d_weights arrives as None
        return out, (dropped.view(B, H, T, S) if need_weights else None)

    @staticmethod
    def backward(ctx, d_out, d_weights):
        q, k, v, weights, keep, mask = ctx.saved_tensors
        p, empty, need_weights = ctx.p, ctx.empty, ctx.need_weights
        if torch.is_grad_enabled():  # create_graph=True: a gradient that differentiates again
            inputs = (q, k, v, mask, keep, p, empty, need_weights)
            return tuple(reference_backward(_reference_outputs, inputs, (d_out, d_weights)))
        B, H, T, d = q.shape
        S, scale = k.shape[2], d**-0.5
        if d_out is None:  # only the weights were read
            d_out = v.new_zeros(B, H, T, v.shape[3])
        d_out3 = _batches(d_out.contiguous())  # (B·H, T, d_v)
        d_q = d_k = d_v = d_mask = None
        # o = ã v:  dV = Ãᵀ dO,  dÃ = dO Vᵀ (+ what read the returned weights)
        if ctx.needs_input_grad[2]:
            dropped = weights if keep is None else (weights * _batches(keep)).mul_(1 / (1 - p))
            d_v = torch.bmm(dropped.transpose(1, 2), d_out3).view(v.shape)
            del dropped
        d_alpha = torch.bmm(d_out3, _batches(v).transpose(1, 2))  # (B·H, T, S)
        if d_weights is not None:
            d_alpha += _batches(d_weights)
        # ã = a z/(1-p):  dA = dÃ z/(1-p)
        if keep is not None:
            d_alpha.mul_(_batches(keep)).mul_(1.0 / (1.0 - p))
        # a = softmax(s):  dS = A ⊙ (dA − rowsum(dA ⊙ A)), in place in dA
        d_alpha.mul_(weights)
        d_scores = d_alpha.addcmul_(weights, d_alpha.sum(-1, keepdim=True), value=-1.0)
        # s = q kᵀ/√d + M:  dQ = dS K/√d,  dK = dSᵀ Q/√d,  dM = dS summed to M's shape
        if ctx.needs_input_grad[0]:
            d_q = torch.bmm(d_scores, _batches(k)).mul_(scale).view(q.shape)
        if ctx.needs_input_grad[1]:
            d_k = torch.bmm(d_scores.transpose(1, 2), _batches(q)).mul_(scale).view(k.shape)
        if ctx.needs_input_grad[3]:
            d_mask = d_scores.view(B, H, T, S).sum_to_size(mask.shape)
        return d_q, d_k, d_v, d_mask, None, None, None, None


__all__ = [
    "attention_reference",
    "causal_mask",
    "ScaledDotProductFunction",
    "scaled_dot_product_attention",
]
