r"""The Transformer's pieces (Vaswani et al. 2017): positional encodings, encoder and decoder
layers, and their stacks, each able to run over a whole sequence or one new position at a time
against a key/value cache.

Shapes: ``B`` batch, ``T`` target (query) length, ``S`` source (key) length, ``E`` = d_model,
``h`` heads of ``d = E / h`` features each.

**Positional encoding** (added to the embeddings, which are scaled by √E first)::

    PE(pos, 2i)   = sin(pos / 10000^{2i/E})        sinusoidal (the paper)
    PE(pos, 2i+1) = cos(pos / 10000^{2i/E})
    PE(pos)       = P[pos]                          learned: a table P (max_len, E)

**Multi-head attention** (the weights of :class:`seqlab.attention.MultiheadAttention`, which
has ``torch.nn.MultiheadAttention``'s parameters ``in_proj_weight`` (3E, E) = [W_Q; W_K; W_V],
``in_proj_bias`` and ``out_proj``)::

    Q = X W_Qᵀ, K = Y W_Kᵀ, V = Y W_Vᵀ           split into h heads (B, h, ·, d)
    head_j = softmax(Q_j K_jᵀ / √d + mask) V_j     (B, h, T, d)   (scaled_dot_product_attention)
    MHA(X, Y) = concat(head_1 … head_h) W_Oᵀ       (B, T, E)

**Encoder layer** (``norm_first=False``: post-norm, the paper; ``True``: pre-norm)::

    post-norm:  x = LN₁(x + MHA(x, x)),      x = LN₂(x + FFN(x))
    pre-norm:   x = x + MHA(LN₁(x), LN₁(x)),  x = x + FFN(LN₂(x))
    FFN(x) = W₂ act(W₁ x + b₁) + b₂             act = relu (the paper) or gelu

**Decoder layer**: masked (causal) self-attention, then attention over the encoder's output
``m`` (the memory), then the FFN, with LN₁, LN₂, LN₃ placed the same way. Parameter names are
``torch.nn.TransformerEncoderLayer`` / ``TransformerDecoderLayer``'s (``self_attn``,
``multihead_attn``, ``linear1``, ``linear2``, ``norm1`` …), so a ``state_dict`` moves across.

**Key/value cache.** Decoding one new position ``t`` needs the keys and values of positions
``≤ t`` only, and those of earlier positions do not change (the mask is causal), so each layer
keeps its projected ``K, V`` (B, h, t, d) and appends one row per step: a step costs O(t)
instead of recomputing all t positions, O(t²). The cross-attention's ``K, V`` of the memory
are projected once per source sentence.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..attention import MultiheadAttention, scaled_dot_product_attention
from ..errors import InputError

POSITIONAL = ("sinusoidal", "learned")
ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}
KV = tuple[Tensor, Tensor]  # (keys, values), each (B, h, t, d)


# -- positions -------------------------------------------------------------------------------
class PositionalEncoding(nn.Module):
    """Adds PE(offset … offset+T-1) to x (B, T, E): sinusoidal or a learned table.

    ``config_key`` names the setting that sizes the learned table in error messages.

    Example::

        >>> pe = PositionalEncoding(16, kind="learned", max_len=8)
        >>> pe(torch.zeros(2, 5, 16)).shape
        torch.Size([2, 5, 16])
    """

    def __init__(self, d_model: int, kind: str = "sinusoidal", max_len: int = 512,
                 config_key: str = "max_len"):  # fmt: skip
        super().__init__()
        if kind not in POSITIONAL:
            raise InputError(f"positional={kind!r}: expected one of {', '.join(POSITIONAL)}")
        self.kind, self.max_len, self.config_key = kind, max_len, config_key
        if kind == "learned":
            self.table = nn.Embedding(max_len, d_model)
            nn.init.normal_(self.table.weight, std=0.02)
        else:
            pos = torch.arange(max_len, dtype=torch.float64)[:, None]  # (P, 1)
            rate = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
            table = torch.zeros(max_len, d_model, dtype=torch.float64)
            table[:, 0::2] = torch.sin(pos * rate)  # PE(pos, 2i)
            table[:, 1::2] = torch.cos(pos * rate[: d_model // 2])  # PE(pos, 2i+1)
            self.register_buffer("table_", table.float(), persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        end = offset + x.shape[1]
        if end > self.max_len:
            if self.kind == "learned":
                raise InputError(
                    f"a sequence of {end} positions is longer than the learned positional "
                    f"table (max_len={self.max_len}); raise {self.config_key} or use shorter "
                    "sequences"
                )
            self._grow(end)
        if self.kind == "learned":
            return x + self.table.weight[offset:end]
        return x + self.table_[offset:end].to(x.dtype)

    def _grow(self, length: int) -> None:
        """The sinusoid extends to any length; rebuild the buffer longer."""
        grown = PositionalEncoding(self.table_.shape[1], "sinusoidal", 2 * length)
        self.table_ = grown.table_.to(self.table_.device)
        self.max_len = 2 * length


# -- attention over the MultiheadAttention's weights -------------------------------------------
def split_heads(x: Tensor, heads: int) -> Tensor:
    B, T, E = x.shape
    return x.view(B, T, heads, E // heads).transpose(1, 2)  # (B, h, T, d)


def merge_heads(x: Tensor) -> Tensor:
    B, h, T, d = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d)  # (B, T, E)


def project(mha: nn.Module, x: Tensor, parts: slice) -> list[Tensor]:
    """x (B, T, E) through rows ``parts`` of [W_Q; W_K; W_V] (in thirds) -> heads (B, h, T, d)."""
    E = mha.embed_dim
    rows = slice(parts.start * E, parts.stop * E)
    bias = None if mha.in_proj_bias is None else mha.in_proj_bias[rows]
    y = F.linear(x, mha.in_proj_weight[rows], bias)  # (B, T, kE)
    return [split_heads(p, mha.num_heads) for p in y.chunk(parts.stop - parts.start, dim=-1)]


def attend(mha, q, k, v, padding, causal, need_weights, backend) -> tuple[Tensor, Tensor | None]:
    """heads q (B, h, T, d), k, v (B, h, S, d) -> (W_O concat(heads) (B, T, E), weights
    (B, h, T, S) or None). padding (B, S) bool, True = a padded key; causal: key j > query i
    masked (T == S)."""
    out, weights = scaled_dot_product_attention(
        q, k, v, key_padding_mask=padding, dropout_p=mha.dropout if mha.training else 0.0,
        is_causal=causal, need_weights=need_weights, backend=backend, training=mha.training,
    )  # fmt: skip
    return mha.out_proj(merge_heads(out)), weights


def self_attention(mha, x, padding, causal, need_weights, backend, cache: KV | None):
    """MHA(x, x) with the new positions' K, V appended to ``cache`` -> (out, weights, (K, V))."""
    q, k, v = project(mha, x, slice(0, 3))
    if cache is not None:
        k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)  # (B, h, t, d)
    out, weights = attend(mha, q, k, v, padding, causal, need_weights, backend)
    return out, weights, (k, v)


class _Layer(nn.Module):
    """What both layers hold: self-attention, the FFN and two norms, torch's names."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str = "relu", norm_first: bool = False,
                 layer_norm_eps: float = 1e-5, backend: str = "auto"):  # fmt: skip
        super().__init__()
        if d_model % nhead:
            raise InputError(
                f"d_model={d_model} is not divisible by nhead={nhead}; each head gets d_model / "
                "nhead features: choose nhead dividing d_model"
            )
        if activation not in ACTIVATIONS:
            raise InputError(f"activation={activation!r}: expected one of {', '.join(ACTIVATIONS)}")
        self.d_model, self.norm_first, self.backend = d_model, norm_first, backend
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.activation = activation
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def _ffn(self, x: Tensor) -> Tensor:
        act = ACTIVATIONS[self.activation]  # kept by name: a whole saved layer holds no function
        return self.linear2(self.dropout(act(self.linear1(x))))  # W₂ act(W₁x + b₁) + b₂

    def _check_width(self, x: Tensor) -> None:
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise InputError(
                f"input of shape {tuple(x.shape)}: expected (B, T, {self.d_model}) (d_model)"
            )


class EncoderLayer(_Layer):
    """Self-attention + FFN, post-norm or pre-norm (module docstring); the parameters of
    ``torch.nn.TransformerEncoderLayer(..., batch_first=True)``.

    ``forward(x (B, T, E), padding (B, T) bool or None, causal, need_weights, cache)`` ->
    (x (B, T, E), self-attention weights (B, h, T, T') or None, (K, V) (B, h, T', d)), where
    T' = T plus the cached positions. A causal encoder layer is the decoder-only LM's block.
    """

    def forward(self, x, padding=None, causal=False, need_weights=False, cache: KV | None = None):
        self._check_width(x)
        sa = self.self_attn
        if self.norm_first:
            a, w, kv = self_attention(sa, self.norm1(x), padding, causal, need_weights,
                                      self.backend, cache)  # fmt: skip
            x = x + self.dropout1(a)  # x + MHA(LN₁(x))
            x = x + self.dropout2(self._ffn(self.norm2(x)))  # x + FFN(LN₂(x))
        else:
            a, w, kv = self_attention(sa, x, padding, causal, need_weights, self.backend, cache)
            x = self.norm1(x + self.dropout1(a))  # LN₁(x + MHA(x))
            x = self.norm2(x + self.dropout2(self._ffn(x)))  # LN₂(x + FFN(x))
        return x, w, kv


class DecoderLayer(_Layer):
    """Causal self-attention, attention over the memory, FFN; the parameters of
    ``torch.nn.TransformerDecoderLayer(..., batch_first=True)``.

    ``forward(x (B, T, E), memory_kv, memory_padding (B, S) bool or None, need_weights, cache)``
    -> (x, (self weights (B, h, T, T'), cross weights (B, h, T, S)) or Nones, (K, V)).
    ``memory_kv`` is :meth:`memory_kv` of the encoder's output: projected once, reused by every
    step. Without a cache the self-attention is causal over the T positions; with one, x holds
    the single newest position, which may see every cached one.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str = "relu", norm_first: bool = False,
                 layer_norm_eps: float = 1e-5, backend: str = "auto"):  # fmt: skip
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation, norm_first,
                         layer_norm_eps, backend)  # fmt: skip
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout3 = nn.Dropout(dropout)

    def memory_kv(self, memory: Tensor) -> KV:
        """memory (B, S, E) -> its cross-attention keys and values, each (B, h, S, d)."""
        k, v = project(self.multihead_attn, memory, slice(1, 3))
        return k, v

    def _cross(self, x, memory_kv, memory_padding, need_weights):
        (q,) = project(self.multihead_attn, x, slice(0, 1))
        k, v = memory_kv
        return attend(self.multihead_attn, q, k, v, memory_padding, False, need_weights,
                      self.backend)  # fmt: skip

    def forward(self, x, memory_kv: KV, memory_padding=None, need_weights=False,
                cache: KV | None = None):  # fmt: skip
        self._check_width(x)
        causal = cache is None and x.shape[1] > 1
        sa = self.self_attn
        if self.norm_first:
            a, ws, kv = self_attention(sa, self.norm1(x), None, causal, need_weights,
                                       self.backend, cache)  # fmt: skip
            x = x + self.dropout1(a)  # x + MaskedMHA(LN₁(x))
            c, wc = self._cross(self.norm2(x), memory_kv, memory_padding, need_weights)
            x = x + self.dropout2(c)  # x + MHA(LN₂(x), m)
            x = x + self.dropout3(self._ffn(self.norm3(x)))  # x + FFN(LN₃(x))
        else:
            a, ws, kv = self_attention(sa, x, None, causal, need_weights, self.backend, cache)
            x = self.norm1(x + self.dropout1(a))  # LN₁(x + MaskedMHA(x))
            c, wc = self._cross(x, memory_kv, memory_padding, need_weights)
            x = self.norm2(x + self.dropout2(c))  # LN₂(x + MHA(x, m))
            x = self.norm3(x + self.dropout3(self._ffn(x)))  # LN₃(x + FFN(x))
        return x, (ws, wc), kv


class Stack(nn.Module):
    """``layers`` then a final LayerNorm ``norm`` — the layout (and parameter names) of
    ``torch.nn.TransformerEncoder`` / ``TransformerDecoder`` with ``norm=LayerNorm``, which is
    what ``torch.nn.Transformer`` builds for both norm placements."""

    def __init__(self, layer_cls, num_layers: int, d_model: int, eps: float = 1e-5, **kwargs):
        super().__init__()
        self.layers = nn.ModuleList(layer_cls(d_model, **kwargs) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model, eps=eps)


def causal_mask(T: int, device=None) -> Tensor:
    """(T, T) bool, True above the diagonal: position i may not see j > i (torch's bool-mask
    convention, as ``nn.Transformer.generate_square_subsequent_mask`` with -inf)."""
    return torch.ones(T, T, dtype=torch.bool, device=device).triu(1)


def init_weights(module: nn.Module) -> None:
    """Xavier-uniform for every matrix (as ``torch.nn.Transformer`` does), zeros for biases."""
    for name, p in module.named_parameters():
        if p.dim() > 1 and "table" not in name and "embed" not in name:
            nn.init.xavier_uniform_(p)


def scale_embedding(embedding: nn.Embedding, ids: Tensor) -> Tensor:
    """E[ids] · √E, as in the paper (the embedding and the positional code add on one scale)."""
    return embedding(ids) * math.sqrt(embedding.embedding_dim)
