r"""Multi-head attention (Vaswani et al. 2017, §3.2.2): a twin of torch.nn.MultiheadAttention.

Equations, with E = embed_dim, H = num_heads, d = E / H::

    Q = query W_qᵀ + b_q,   K = key W_kᵀ + b_k,   V = value W_vᵀ + b_v      (…, E) each
    head_h = softmax(Q_h K_hᵀ / √d + mask) V_h         Q_h = Q[..., h·d:(h+1)·d], so K_h, V_h
    output = concat(head_1, …, head_H) W_oᵀ + b_o

Shapes (torch's legend: N batch, L target length, S source length): query (L, N, E), or
(N, L, E) with ``batch_first=True``, or (L, E) unbatched; key (S, N, kdim), value (S, N, vdim)
likewise. Output like the query; weights (N, L, S) averaged over the heads, or (N, H, L, S)
with ``average_attn_weights=False`` (no N when unbatched).

Masks follow torch: ``key_padding_mask`` (N, S) bool, True = padding; ``attn_mask`` (L, S) or
(N·H, L, S), bool True = NOT allowed, or float added to the scores. ``is_causal=True`` applies
the causal mask (aligned to the end of the keys), with or without ``attn_mask``: torch asks for
the mask itself and takes the flag as a hint; here a mask given beside the flag is applied too
(when it is the causal mask itself, the fused kernel's causal mode runs instead of reading it).
A query row with every key masked out gets zeros (torch's fused kernel does too; its explicit
path, taken for the weights, gives NaN). The attention itself is
:func:`~seqlab.attention.scaled_dot.scaled_dot_product_attention`; ``need_weights=False`` lets
``backend="auto"`` take the fused kernel, so models that do not plot the weights should pass it.

The weights returned are those the output was computed with: after dropout in training, as
torch's. Nothing is kept on the module.

Weight layout as torch's: ``in_proj_weight`` (3E, E) = [W_q; W_k; W_v] when kdim = vdim = E,
else ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim);
``in_proj_bias`` (3E) = [b_q; b_k; b_v]; ``out_proj.weight`` (E, E), ``out_proj.bias`` (E).
So ``state_dict`` moves between this module and torch's in both directions.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError, ShapeError
from .scaled_dot import BACKENDS, causal_mask, scaled_dot_product_attention

__all__ = ["MultiheadAttention", "causal_mask", "scaled_dot_product_attention"]


def _shape(t: Tensor) -> str:
    return str(tuple(t.shape))


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}={value!r}: expected an integer >= 1")


class MultiheadAttention(nn.Module):
    """Multi-head attention with torch.nn.MultiheadAttention's arguments, parameters and outputs.

    With d = E / H and M the masks (0 where allowed, -inf where not, plus any float mask)::

        Q = query W_qᵀ + b_q,   K = key W_kᵀ + b_k,   V = value W_vᵀ + b_v
        head_h = softmax(Q_h K_hᵀ / √d + M) V_h                (dropout on the softmax)
        output = concat(head_1, …, head_H) W_oᵀ + b_o

    Args:
        embed_dim: E, the model size; num_heads: H, a divisor of E (each head has d = E / H).
        dropout: probability of dropping an attention weight in training.
        bias: biases on the input and output projections.
        add_bias_kv, add_zero_attn: must be False (not supported; a clear error says so).
        kdim, vdim: feature sizes of key and value (default E).
        batch_first: inputs and outputs (N, L, E) instead of (L, N, E).
        device, dtype: of the parameters.
        backend: ``"auto"`` (torch's fused attention kernel unless the weights are needed),
            ``"seqlab"`` (the hand-derived backward), ``"torch"`` (the fused kernel; the
            explicit path when weights are needed).

    Inputs: ``query`` (L, N, E), ``key`` (S, N, kdim), ``value`` (S, N, vdim) — (N, ·, ·) with
    ``batch_first``, no N unbatched; ``key_padding_mask`` (N, S), True = padding;
    ``need_weights``; ``attn_mask`` (L, S) or (N·H, L, S), bool True = masked out or float
    added; ``average_attn_weights``; ``is_causal`` (the causal mask, with or without attn_mask).
    Outputs: ``(output like query, weights)``: weights (N, L, S) averaged over heads, (N, H, L, S)
    with ``average_attn_weights=False``, None with ``need_weights=False``.

    Example::

        >>> torch.manual_seed(0) and None
        >>> mha = seqlab.attention.MultiheadAttention(16, 4, batch_first=True)
        >>> ref = torch.nn.MultiheadAttention(16, 4, batch_first=True)
        >>> _ = ref.load_state_dict(mha.state_dict())
        >>> x = torch.randn(2, 5, 16)
        >>> out, w = mha(x, x, x)
        >>> out.shape, w.shape, torch.allclose(out, ref(x, x, x)[0], atol=1e-6)
        (torch.Size([2, 5, 16]), torch.Size([2, 5, 5]), True)
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device=None,
        dtype=None,
        backend: str = "auto",
    ):
        super().__init__()
        _positive_int("embed_dim", embed_dim)
        _positive_int("num_heads", num_heads)
        if embed_dim % num_heads != 0:
            raise InputError(
                f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}; each head "
                f"gets embed_dim / num_heads features, so pick num_heads among the divisors"
            )
        if add_bias_kv or add_zero_attn:
            raise InputError(
                "add_bias_kv=True and add_zero_attn=True are not supported by seqlab's "
                "MultiheadAttention; use torch.nn.MultiheadAttention for them"
            )
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise InputError(f"dropout={dropout!r}: expected a probability in [0, 1)")
        if not 0.0 <= dropout < 1.0:
            raise InputError(f"dropout={dropout}: expected a probability in [0, 1)")
        for name, value in (("kdim", kdim), ("vdim", vdim)):
            if value is not None:
                _positive_int(name, value)
        if backend not in BACKENDS:
            raise InputError(f"backend={backend!r} is not one of {BACKENDS}")
        factory = {"device": device, "dtype": dtype}
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first, self.backend = float(dropout), batch_first, backend
        self.head_dim = embed_dim // num_heads
        # Created in torch's order, so one seed gives torch's initial weights.
        if self._qkv_same_embed_dim:
            self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim, **factory))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = nn.Parameter(torch.empty(embed_dim, embed_dim, **factory))
            self.k_proj_weight = nn.Parameter(torch.empty(embed_dim, self.kdim, **factory))
            self.v_proj_weight = nn.Parameter(torch.empty(embed_dim, self.vdim, **factory))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """torch's: Xavier-uniform projections, zero biases; out_proj.weight as nn.Linear's."""
        if self._qkv_same_embed_dim:
            nn.init.xavier_uniform_(self.in_proj_weight)
        else:
            nn.init.xavier_uniform_(self.q_proj_weight)
            nn.init.xavier_uniform_(self.k_proj_weight)
            nn.init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def _projections(self, query: Tensor, key: Tensor, value: Tensor):
        """(N, L, E), (N, S, kdim), (N, S, vdim) -> Q, K, V (N, L|S, E); one GEMM if q is k is v."""
        E, b = self.embed_dim, self.in_proj_bias
        b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
        if self._qkv_same_embed_dim:
            if query is key and key is value:
                return F.linear(query, self.in_proj_weight, b).chunk(3, dim=-1)  # (N, L, 3E)
            W_q, W_kv = self.in_proj_weight[:E], self.in_proj_weight[E:]
            q = F.linear(query, W_q, b_q)
            if key is value:
                b_kv = None if b is None else b[E:]
                return (q, *F.linear(key, W_kv, b_kv).chunk(2, dim=-1))
            W_k, W_v = W_kv.chunk(2)
            return q, F.linear(key, W_k, b_k), F.linear(value, W_v, b_v)
        return (
            F.linear(query, self.q_proj_weight, b_q),
            F.linear(key, self.k_proj_weight, b_k),
            F.linear(value, self.v_proj_weight, b_v),
        )

    def _check_inputs(self, query, key, value):
        like = self.out_proj.weight
        for name, t, size in (
            ("query", query, self.embed_dim),
            ("key", key, self.kdim),
            ("value", value, self.vdim),
        ):
            if not isinstance(t, Tensor):
                raise InputError(f"{name} must be a Tensor, got {type(t).__name__}")
            if t.dim() != query.dim() or t.dim() not in (2, 3):
                raise ShapeError(
                    f"{name} has shape {_shape(t)}; query, key and value must all be 3-D "
                    f"{'(N, L, E)' if self.batch_first else '(L, N, E)'} or all 2-D (L, E)"
                )
            if t.shape[-1] != size:
                raise ShapeError(
                    f"{name} has {t.shape[-1]} features (shape {_shape(t)}) but the module was "
                    f"built for {size} ({'embed_dim' if name == 'query' else name[0] + 'dim'})"
                )
            if t.dtype != like.dtype or t.device != like.device:
                raise InputError(
                    f"{name} is {t.dtype} on {t.device} but the module's parameters are "
                    f"{like.dtype} on {like.device}; e.g. {name}.to(module.out_proj.weight)"
                )
        n = 0 if (self.batch_first or query.dim() == 2) else 1
        if key.shape[:-1] != value.shape[:-1]:
            raise ShapeError(f"key {_shape(key)} and value {_shape(value)} must match but in E")
        if query.dim() == 3 and query.shape[n] != key.shape[n]:
            raise ShapeError(
                f"query {_shape(query)} and key {_shape(key)} have different batch sizes "
                f"(dim {n}; batch_first={self.batch_first})"
            )

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Inputs as torch.nn.MultiheadAttention's -> (output like query, weights or None)."""
        self._check_inputs(query, key, value)
        unbatched = query.dim() == 2
        if unbatched:  # (L, E) -> (1, L, E)
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None and isinstance(key_padding_mask, Tensor):
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:  # (L, N, E) -> (N, L, E), views; identity kept for one GEMM
            same_kv = key is value
            same_qk = query is key
            query = query.transpose(0, 1)
            key = query if same_qk else key.transpose(0, 1)
            value = key if same_kv else value.transpose(0, 1)
        N, L, S, H, d = query.shape[0], query.shape[1], key.shape[1], self.num_heads, self.head_dim
        q, k, v = self._projections(query, key, value)  # (N, L|S, E) each
        q = q.view(N, L, H, d).transpose(1, 2)  # (N, H, L, d)
        k = k.view(N, S, H, d).transpose(1, 2)  # (N, H, S, d)
        v = v.view(N, S, H, d).transpose(1, 2)  # (N, H, S, d)
        heads, weights = scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            dropout_p=self.dropout,
            is_causal=is_causal,
            need_weights=need_weights,
            backend=self.backend,
            training=self.training,
        )  # (N, H, L, d), (N, H, L, S)
        merged = heads.transpose(1, 2).reshape(N, L, self.embed_dim)  # (N, L, E) = concat(heads)
        output = self.out_proj(merged)
        if weights is not None and average_attn_weights:
            weights = weights.mean(dim=1)  # (N, L, S)
        if unbatched:
            output = output.squeeze(0)
            weights = None if weights is None else weights.squeeze(0)
        elif not self.batch_first:
            output = output.transpose(0, 1)  # (L, N, E)
        return output, weights

    def extra_repr(self) -> str:
        extra = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            extra += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            extra += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            extra += ", batch_first=True"
        return extra + f", backend={self.backend!r}"
