"""Attention over a set of keys: additive (Bahdanau), Luong dot and general, and masks; and
Lin et al.'s structured self-attention (r hops over a sentence, with its penalty).

Every module maps query (B, Q) or (B, T, Q) and keys (B, S, K), with an optional mask (B, S)
bool (True = a real position), to ``(context, weights)``: context (B[, T], K) and the
alignment weights (B[, T], S), returned rather than kept on the module. Imports only torch.
"""

from .additive import AdditiveAttention
from .core import lengths_to_mask, masked_softmax
from .dot import DotAttention, GeneralAttention
from .structured import StructuredSelfAttention, hop_overlap, hop_penalty

__all__ = [
    "AdditiveAttention",
    "DotAttention",
    "GeneralAttention",
    "StructuredSelfAttention",
    "hop_overlap",
    "hop_penalty",
    "lengths_to_mask",
    "masked_softmax",
]
