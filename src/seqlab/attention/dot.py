r"""Luong attention with "dot" and "general" scores (Luong et al. 2015).

Equations (s_i the decoder state, h_j the encoder outputs)::

    dot:      e_ij = s_iᵀ h_j                   (Q == K)
    general:  e_ij = s_iᵀ W_a h_j               W_a = weight (Q, K)
    α_ij = softmax_j(e_ij)  (masked),   c_i = Σ_j α_ij h_j

Shapes: query (B, Q) for one step (B may be batch × beam) or (B, T, Q) for T queries; keys
(B, S, K); mask (B, S) bool (True = a real position), or (B, T, S); context (B, K) or
(B, T, K); weights (B, S) or (B, T, S), returned for plots and penalties.

The scores are one batched matrix product, ``(s W_a) hᵀ`` for "general" (projecting the query,
T × Q × K per sequence, costs less than projecting S keys when T is small, as for a decoder
step); autograd differentiates it. The softmax → context step is the hand-derived
:class:`~seqlab.attention.core.SoftmaxContextFunction` the additive attention shares.
Equivalent to :func:`dot_reference` and :func:`general_reference`.
"""

import math

import torch
from torch import Tensor, nn

from ..errors import InputError
from .core import SoftmaxContextFunction, as_queries, check_inputs, softmax_context_reference


def _attend(query: Tensor, scoring_query: Tensor, keys: Tensor, mask: Tensor | None):
    """Scores ``scoring_query`` (B, T, K) against keys, then softmax → context; 2-D in, 2-D out."""
    scores = torch.bmm(scoring_query, keys.transpose(1, 2))  # (B, T, S): e_ij
    context, weights = SoftmaxContextFunction.apply(scores, keys, mask)
    if query.dim() == 2:
        return context.squeeze(1), weights.squeeze(1)  # (B, K), (B, S)
    return context, weights


def dot_reference(query: Tensor, keys: Tensor, mask: Tensor | None):
    """Autograd reference: e_ij = Σ_k s_ik h_jk elementwise, then a row-by-row softmax → context."""
    scores = (as_queries(query).unsqueeze(2) * keys.unsqueeze(1)).sum(-1)  # (B, T, S)
    return softmax_context_reference(scores.squeeze(1) if query.dim() == 2 else scores, keys, mask)


def general_reference(query: Tensor, weight: Tensor, keys: Tensor, mask: Tensor | None):
    """Autograd reference: e_ij = Σ_{p,k} s_ip W_pk h_jk, then a row-by-row softmax → context."""
    scores = torch.einsum("btp,pk,bsk->bts", as_queries(query), weight, keys)  # (B, T, S)
    return softmax_context_reference(scores.squeeze(1) if query.dim() == 2 else scores, keys, mask)


class DotAttention(nn.Module):
    """Luong's "dot" score ``e_ij = s_iᵀ h_j`` (query and keys of one size), softmax, context.

    Inputs: ``query`` (B, K) or (B, T, K), ``keys`` (B, S, K), ``mask`` (B, S) or (B, T, S)
    bool, True at real positions. Outputs: ``(context (B[, T], K), weights (B[, T], S))``.
    No parameters.

    Example::

        >>> context, weights = seqlab.attention.DotAttention()(torch.randn(2, 6),
        ...                                                     torch.randn(2, 4, 6))
        >>> context.shape, torch.allclose(weights.sum(-1), torch.ones(2))
        (torch.Size([2, 6]), True)
    """

    def forward(
        self, query: Tensor, keys: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """query (B[, T], Q), keys (B, S, K) -> (context (B[, T], K), weights (B[, T], S))."""
        check_inputs("dot attention", query, keys, mask, None, None, query)
        return _attend(query, as_queries(query), keys, mask)


class GeneralAttention(nn.Module):
    """Luong's "general" score ``e_ij = s_iᵀ W_a h_j``, softmax, context.

    Args: ``query_size`` Q, ``key_size`` K; device, dtype of the parameter.
    Inputs: ``query`` (B, Q) or (B, T, Q), ``keys`` (B, S, K), ``mask`` (B, S) or (B, T, S)
    bool, True at real positions. Outputs: ``(context (B[, T], K), weights (B[, T], S))``.
    Attributes: ``weight`` (Q, K) = W_a, drawn from U(-1/√K, 1/√K).

    Example::

        >>> attention = seqlab.attention.GeneralAttention(query_size=8, key_size=6)
        >>> context, weights = attention(torch.randn(2, 3, 8), torch.randn(2, 4, 6))
        >>> context.shape, weights.shape
        (torch.Size([2, 3, 6]), torch.Size([2, 3, 4]))
    """

    def __init__(self, query_size: int, key_size: int, *, device=None, dtype=None):
        super().__init__()
        for name, value in (("query_size", query_size), ("key_size", key_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name}={value!r}: expected an integer >= 1")
        self.query_size, self.key_size = query_size, key_size
        self.weight = nn.Parameter(torch.empty(query_size, key_size, device=device, dtype=dtype))
        bound = 1.0 / math.sqrt(key_size)
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(
        self, query: Tensor, keys: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """query (B[, T], Q), keys (B, S, K) -> (context (B[, T], K), weights (B[, T], S))."""
        check_inputs(
            "general attention", query, keys, mask, self.query_size, self.key_size, self.weight
        )
        scoring_query = torch.matmul(as_queries(query), self.weight)  # (B, T, K): s_iᵀ W_a
        return _attend(query, scoring_query, keys, mask)

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}"
