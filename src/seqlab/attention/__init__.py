"""Attention over a set of keys: additive (Bahdanau), Luong dot and general, and masks.

Every module maps query (B, Q) or (B, T, Q) and keys (B, S, K), with an optional mask (B, S)
bool (True = a real position), to ``(context, weights)``: context (B[, T], K) and the
alignment weights (B[, T], S), returned rather than kept on the module. Multi-head attention
(:class:`MultiheadAttention`, a twin of torch.nn.MultiheadAttention, and
:func:`scaled_dot_product_attention` on (B, H, T, d) heads) takes torch's mask conventions
instead: bool True = masked out. Imports only torch.
"""

from .additive import AdditiveAttention
from .core import lengths_to_mask, masked_softmax
from .dot import DotAttention, GeneralAttention
from .multihead import MultiheadAttention, causal_mask, scaled_dot_product_attention

__all__ = [
    "AdditiveAttention",
    "DotAttention",
    "GeneralAttention",
    "MultiheadAttention",
    "causal_mask",
    "lengths_to_mask",
    "masked_softmax",
    "scaled_dot_product_attention",
]
