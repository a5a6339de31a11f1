"""Attention over a set of keys: additive (Bahdanau), Luong dot and general, and masks.

Every module maps query (B, Q) or (B, T, Q) and keys (B, S, K), with an optional mask (B, S)
bool (True = a real position), to ``(context, weights)``: context (B[, T], K) and the
alignment weights (B[, T], S), returned rather than kept on the module. Imports only torch.
"""

from .additive import AdditiveAttention
from .core import lengths_to_mask, masked_softmax
from .dot import DotAttention, GeneralAttention

__all__ = [
    "AdditiveAttention",
    "DotAttention",
    "GeneralAttention",
    "lengths_to_mask",
    "masked_softmax",
]
