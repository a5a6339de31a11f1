r"""Additive (Bahdanau) attention: forward and hand-derived backward of its core.

Equations (Bahdanau et al. 2015; s_{i-1} the decoder state, h_j the encoder outputs)::

    e_ij = vᵀ tanh(W s_{i-1} + U h_j + b)       W = query_proj.weight (A, Q)
    α_ij = softmax_j(e_ij)  (masked)            U = key_proj.weight (A, K), b = key_proj.bias (A,)
    c_i  = Σ_j α_ij h_j                         v = score (A,)

Shapes: query (B, Q) for one decoder step (B may be batch × beam) or (B, T, Q) for T queries
at once; keys (B, S, K); mask (B, S) bool (True = a real position), or (B, T, S); context
(B, K) or (B, T, K); weights (B, S) or (B, T, S), the alignment α, returned for plots and
penalties. ``U h_j + b`` does not depend on the query: :meth:`AdditiveAttention.project_keys`
computes it once per source and a decoder passes it to every step as ``projected_keys``.

The core, from the projected query q = W s (B, T, A) and projected keys P = U h + b (B, S, A),
is one ``autograd.Function`` with a hand-derived backward; with ∂E/∂e from
:mod:`.core` (softmax → context)::

    a_ij = tanh(q_i + P_j)        ∂E/∂z_ij = (∂E/∂e_ij v) ⊙ (1 - a_ij²)     (B, T, S, A)
    e_ij = vᵀ a_ij                ∂E/∂v = Σ_ij ∂E/∂e_ij a_ij
    z_ij = q_i + P_j              ∂E/∂q_i = Σ_j ∂E/∂z_ij,  ∂E/∂P_j = Σ_i ∂E/∂z_ij

Nothing of size (B, T, S, A) is saved: the backward recomputes a from q and P (one add and
one tanh), so a decoder's graph holds (B, S) weights per step, not (B, S, A) activations.
W, U and b reach their gradients through autograd of the two ``nn.Linear`` projections.
Equivalent to :func:`additive_reference`.
"""

import math

import torch
from torch import Tensor, nn

from ..errors import InputError, ShapeError
from ..functions import reference_backward
from .core import (
    as_queries,
    check_inputs,
    masked_softmax,
    softmax_context_backward,
    softmax_context_forward,
)


def _energies(query_proj: Tensor, key_proj: Tensor, score: Tensor):
    """(B, T, A), (B, S, A), (A,) -> a (B, T, S, A), e (B, T, S)."""
    # a_ij = tanh(q_i + P_j), in place on the fresh sum: one (B, T, S, A) buffer, not two
    a = torch.tanh_(query_proj.unsqueeze(2) + key_proj.unsqueeze(1))  # (B, T, S, A)
    # e_ij = vᵀ a_ij
    return a, torch.matmul(a, score)  # (B, T, S)


def additive_forward(query_proj, key_proj, score, keys, mask):
    """q (B, T, A), P (B, S, A), v (A,), h (B, S, K) -> (context (B, T, K), weights (B, T, S))."""
    _, energies = _energies(query_proj, key_proj, score)
    return softmax_context_forward(energies, keys, mask)


def additive_backward(d_context, d_weights, query_proj, key_proj, score, keys, weights, needs):
    """Hand-derived; returns (dq, dP, dv, d_keys), None where ``needs`` is False."""
    # α = softmax(e), c = α h
    d_energies, d_keys = softmax_context_backward(d_context, d_weights, weights, keys, needs[3])
    a, _ = _energies(query_proj, key_proj, score)  # recomputed, (B, T, S, A)
    # e_ij = vᵀ a_ij
    d_score = torch.tensordot(d_energies, a, dims=3) if needs[2] else None  # (A,)
    d_a = d_energies.unsqueeze(-1) * score  # (B, T, S, A): ∂E/∂a
    # a_ij = tanh(q_i + P_j):  ∂E/∂z = ∂E/∂a ⊙ (1 - a²), in one fused pass
    d_pre = torch.ops.aten.tanh_backward(d_a, a)
    # z_ij = q_i + P_j
    d_query_proj = d_pre.sum(2) if needs[0] else None  # (B, T, A)
    d_key_proj = d_pre.sum(1) if needs[1] else None  # (B, S, A)
    return d_query_proj, d_key_proj, d_score, d_keys


class AdditiveFunction(torch.autograd.Function):
    """(q (B, T, A), P (B, S, A), v (A,), keys (B, S, K), mask) -> (context, weights)."""

    @staticmethod
    def forward(ctx, query_proj, key_proj, score, keys, mask):
        context, weights = additive_forward(query_proj, key_proj, score, keys, mask)
        ctx.save_for_backward(query_proj, key_proj, score, keys, mask, weights)
        ctx.set_materialize_grads(False)  # weights read by nothing: d_weights arrives as None
        return context, weights

    @staticmethod
    def backward(ctx, d_context, d_weights):
        *inputs, weights = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a gradient that differentiates again
            return tuple(reference_backward(additive_reference, inputs, (d_context, d_weights)))
        query_proj, key_proj, score, keys, _ = inputs
        if d_context is None:
            d_context = weights.new_zeros(*weights.shape[:2], keys.shape[-1])
        grads = additive_backward(
            d_context, d_weights, query_proj, key_proj, score, keys, weights,
            ctx.needs_input_grad[:4],
        )  # fmt: skip
        return *grads, None


def additive_reference(query_proj, key_proj, score, keys, mask):
    """Autograd reference of the core, one query row at a time: q (B, A) or (B, T, A)."""
    rows = as_queries(query_proj)  # (B, T, A)
    step_mask = (lambda i: mask) if mask is None or mask.dim() == 2 else (lambda i: mask[:, i])
    contexts, alignments = [], []
    for i in range(rows.shape[1]):
        energies = torch.tanh(rows[:, i, None, :] + key_proj) @ score  # (B, S)
        weights = masked_softmax(energies, step_mask(i))  # (B, S)
        contexts.append((weights.unsqueeze(-1) * keys).sum(1))  # (B, K)
        alignments.append(weights)
    if query_proj.dim() == 2:
        return contexts[0], alignments[0]
    return torch.stack(contexts, 1), torch.stack(alignments, 1)


def _check_size(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}={value!r}: expected an integer >= 1")


class AdditiveAttention(nn.Module):
    r"""Bahdanau attention: ``e_ij = vᵀ tanh(W s_i + U h_j + b)``, ``α_ij = softmax_j(e_ij)``,
    ``c_i = Σ_j α_ij h_j``, with a hand-derived backward of its core (module docstring).

    Args:
        query_size: Q, the decoder state's size. key_size: K, the encoder outputs' size.
        attention_size: A. device, dtype: of the parameters, as in torch.

    Inputs: ``query, keys, mask=None, projected_keys=None``:

    - ``query``: (B, Q) for one decoder step (B may be batch × beam), or (B, T, Q) for T
      queries at once.
    - ``keys``: (B, S, K). ``mask``: (B, S) or (B, T, S) bool, True at real positions;
      masked positions get weight exactly 0.
    - ``projected_keys``: (B, S, A) from :meth:`project_keys`, computed once per source and
      passed to every step.

    Outputs: ``(context, weights)``: context (B, K) or (B, T, K); weights α (B, S) or
    (B, T, S), returned, never stored on the module.

    Attributes: ``query_proj`` = ``nn.Linear(Q, A, bias=False)`` (W), ``key_proj`` =
    ``nn.Linear(K, A)`` (U, b), ``score`` (A,) (v), drawn from U(-1/√A, 1/√A).

    Example::

        >>> attention = seqlab.attention.AdditiveAttention(query_size=8, key_size=6,
        ...                                                 attention_size=5)
        >>> keys, mask = torch.randn(2, 4, 6), torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]).bool()
        >>> context, weights = attention(torch.randn(2, 8), keys, mask)
        >>> context.shape, weights[1, 2:].tolist()
        (torch.Size([2, 6]), [0.0, 0.0])
    """

    def __init__(
        self, query_size: int, key_size: int, attention_size: int, *, device=None, dtype=None
    ):
        super().__init__()
        factory_kwargs = {"device": device, "dtype": dtype}
        for name, value in (
            ("query_size", query_size),
            ("key_size", key_size),
            ("attention_size", attention_size),
        ):
            _check_size(name, value)
        self.query_size, self.key_size, self.attention_size = query_size, key_size, attention_size
        self.query_proj = nn.Linear(query_size, attention_size, bias=False, **factory_kwargs)
        self.key_proj = nn.Linear(key_size, attention_size, **factory_kwargs)
        self.score = nn.Parameter(torch.empty(attention_size, **factory_kwargs))
        bound = 1.0 / math.sqrt(attention_size)
        nn.init.uniform_(self.score, -bound, bound)

    def project_keys(self, keys: Tensor) -> Tensor:
        """keys (B, S, K) -> U h_j + b (B, S, A); once per source, reused by every step."""
        if not isinstance(keys, Tensor) or keys.dim() != 3 or keys.shape[-1] != self.key_size:
            shape = tuple(keys.shape) if isinstance(keys, Tensor) else type(keys).__name__
            raise ShapeError(
                f"keys has shape {shape}; expected (B, S, K) with K = key_size={self.key_size}"
            )
        if keys.dtype != self.score.dtype or keys.device != self.score.device:
            raise InputError(
                f"keys is {keys.dtype} on {keys.device} but the additive attention computes in "
                f"{self.score.dtype} on {self.score.device}; convert it, e.g. "
                f"keys.to(device='{self.score.device}', dtype={self.score.dtype})"
            )
        return self.key_proj(keys)

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        mask: Tensor | None = None,
        projected_keys: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """query (B[, T], Q), keys (B, S, K) -> (context (B[, T], K), weights (B[, T], S))."""
        name = "additive attention"
        check_inputs(name, query, keys, mask, self.query_size, self.key_size, self.score)
        if projected_keys is None:
            projected_keys = self.key_proj(keys)  # (B, S, A)
        else:
            expected = (*keys.shape[:2], self.attention_size)
            if not isinstance(projected_keys, Tensor) or projected_keys.shape != expected:
                shape = getattr(projected_keys, "shape", type(projected_keys).__name__)
                raise ShapeError(
                    f"projected_keys has shape {tuple(shape)}; expected {expected} = (B, S, A) "
                    f"from keys {tuple(keys.shape)} and attention_size={self.attention_size}; "
                    f"compute it with project_keys(keys)"
                )
            if projected_keys.dtype != query.dtype or projected_keys.device != query.device:
                raise InputError(
                    f"projected_keys is {projected_keys.dtype} on {projected_keys.device} but "
                    f"the query is {query.dtype} on {query.device}; compute it with "
                    f"project_keys(keys) from keys like the query's"
                )
        query_proj = self.query_proj(as_queries(query))  # (B, T, A)
        context, weights = AdditiveFunction.apply(
            query_proj, projected_keys, self.score, keys, mask
        )
        if query.dim() == 2:
            return context.squeeze(1), weights.squeeze(1)  # (B, K), (B, S)
        return context, weights

    def extra_repr(self) -> str:
        return (
            f"query_size={self.query_size}, key_size={self.key_size}, "
            f"attention_size={self.attention_size}"
        )
