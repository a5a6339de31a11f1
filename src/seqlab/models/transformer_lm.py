r"""A decoder-only Transformer language model (GPT-style: causal self-attention blocks, no
encoder), the ``charlm`` experiment's ``model.kind=transformer``.

Over ids x (B, T), T ≤ max_len::

    h⁰ = E[x]·√E + PE(0 … T-1)                      (B, T, E)
    hˡ = Block_l(hˡ⁻¹)                               causal self-attention + FFN, l = 1 … L
    p(x_{t+1} | x_≤t) = softmax(W_out LN(hᴸ_t) + b)  (B, T, V)

A block is :class:`~.transformer_layers.EncoderLayer` with a causal mask (the parameters of
``torch.nn.TransformerEncoderLayer``); the stack is ``torch.nn.TransformerEncoder``'s with a
final LayerNorm.

**Decoding** (``step``, the protocol of :mod:`seqlab.decode`): the state holds the tokens seen
and each layer's keys and values; a step embeds the newest token at its position, attends over
the cached K, V and appends its own. The model has seen at most ``max_len`` positions in
training, so when the context would grow past ``max_len`` the newest ``max_len // 2`` tokens are
kept and the cache is rebuilt from them (one full pass, every ``max_len // 2`` steps). With
``use_cache = False`` every step recomputes the kept tokens from scratch: the same tokens, only
slower.
"""

import torch
from torch import Tensor, nn

from ..errors import InputError
from .transformer_layers import (
    EncoderLayer,
    PositionalEncoding,
    Stack,
    init_weights,
    scale_embedding,
)


class TransformerLM(nn.Module):
    """Decoder-only Transformer LM (module docstring for the equations).

    Args:
        vocab_size: ``V``. d_model: ``E``. nhead: ``h`` (divides E). num_layers: ``L``.
        dim_feedforward: FFN width (default 4E). dropout. activation: ``"relu"`` / ``"gelu"``.
        norm_first: pre-norm (True, as GPT) or post-norm. positional: ``"learned"`` or
        ``"sinusoidal"``. max_len: the longest context (and the learned table's size).
        backend: the attention's (``"auto"``, ``"seqlab"``, ``"torch"``).
        config_key: the setting named when a sequence is longer than ``max_len``.

    Inputs: ``ids`` (B, T) int64, T ≤ max_len; ``state`` is accepted and ignored (each chunk
    is its own context). Outputs: logits (B, T, V) and None.
    ``step(tokens (N,), state)`` -> logits (N, V), state (``tokens`` (N, t), ``k{l}``, ``v{l}``
    (N, h, t, d)), None.

    Example::

        >>> model = TransformerLM(vocab_size=80, d_model=64, nhead=4, num_layers=2, max_len=32)
        >>> logits, _ = model(torch.randint(80, (4, 32)))
        >>> logits.shape
        torch.Size([4, 32, 80])
        >>> ids = seqlab.decode.generate(model.step, torch.tensor([5, 6]), 40, temperature=0)
        >>> len(ids)
        40
    """

    use_cache = True

    def __init__(self, vocab_size: int, d_model: int = 256, nhead: int = 4, num_layers: int = 4,
                 dim_feedforward: int | None = None, dropout: float = 0.0,
                 activation: str = "gelu", norm_first: bool = True, positional: str = "learned",
                 max_len: int = 256, backend: str = "auto",
                 config_key: str = "model.max_len"):  # fmt: skip
        super().__init__()
        self.d_model, self.nhead, self.max_len = d_model, nhead, max_len
        self.stack = Stack(EncoderLayer, num_layers, d_model, nhead=nhead,
                           dim_feedforward=dim_feedforward or 4 * d_model, dropout=dropout,
                           activation=activation, norm_first=norm_first,
                           backend=backend)  # fmt: skip
        init_weights(self)
        self.embedding = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.embedding.weight, std=d_model**-0.5)
        self.positional = PositionalEncoding(d_model, positional, max_len, config_key)
        self.dropout = nn.Dropout(dropout)
        self.readout = nn.Linear(d_model, vocab_size)

    def _run(self, ids: Tensor, caches=None, offset: int = 0):
        """ids (B, T) at positions offset … -> (z (B, T, E), each layer's K, V). With
        ``caches`` (one (K, V) per layer) ids is the one newest position."""
        x = self.dropout(self.positional(scale_embedding(self.embedding, ids), offset))
        causal = caches is None and ids.shape[1] > 1
        kvs = []
        for i, layer in enumerate(self.stack.layers):
            x, _, kv = layer(x, None, causal, cache=None if caches is None else caches[i])
            kvs.append(kv)
        return self.stack.norm(x), kvs

    def forward(self, ids: Tensor, state=None) -> tuple[Tensor, None]:
        if ids.dim() != 2:
            raise InputError(f"ids of shape {tuple(ids.shape)}: expected (B, T) token ids")
        z, _ = self._run(ids)
        return self.readout(z), None  # (B, T, V)

    def step(self, tokens: Tensor, state=None) -> tuple[Tensor, dict, None]:
        """The decoding step protocol: x_t (N,) -> logits of x_{t+1} (N, V), the state with
        this position's K, V appended (or rebuilt from the newest max_len // 2 tokens)."""
        if state is None:
            N, h, d = tokens.shape[0], self.nhead, self.d_model // self.nhead
            empty = self.readout.weight.new_zeros(N, h, 0, d)
            state = {"tokens": tokens.new_zeros(N, 0)}
            state.update({f"{kv}{i}": empty for i in range(len(self.stack.layers)) for kv in "kv"})
        history = torch.cat([state["tokens"], tokens[:, None]], dim=1)  # (N, t)
        fresh = history.shape[1] > self.max_len
        if fresh:
            history = history[:, -(self.max_len // 2) :]  # keep the newest half of the context
        if self.use_cache and not fresh:
            caches = [(state[f"k{i}"], state[f"v{i}"]) for i in range(len(self.stack.layers))]
            z, kvs = self._run(tokens[:, None], caches, offset=history.shape[1] - 1)
        else:
            z, kvs = self._run(history)
        state = {"tokens": history}
        for i, (k, v) in enumerate(kvs):
            state[f"k{i}"], state[f"v{i}"] = k, v
        return self.readout(z[:, -1]), state, None
