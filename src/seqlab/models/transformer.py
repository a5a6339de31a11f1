r"""The Transformer (Vaswani et al. 2017): an encoder-decoder that implements the translation
model protocol, and a decoder-only language model that implements the decoding step protocol
(:mod:`.protocols`). The layers, positional codes and the key/value cache are in
:mod:`.transformer_layers`.

Encoder-decoder, source ids x (B, S), decoder inputs y (B, T) = [BOS, y_1 … y_{T-1}]::

    m   = Encoder(E_src[x]·√E + PE)                 (B, S, E)   N_enc layers + LayerNorm
    z   = Decoder(E_tgt[y]·√E + PE, m)              (B, T, E)   causal, N_dec layers + LayerNorm
    p(y_i | y_<i, x) = softmax(W_out z_i + b)        (B, T, V_tgt)

Decoder-only LM over ids x (B, T)::

    z = Stack(E[x]·√E + PE)                           causal self-attention blocks + LayerNorm
    p(x_{t+1} | x_≤t) = softmax(W_out z_t + b)       (B, T, V)

Both decode one token at a time with a key/value cache in the state (``step``); the same
computation without the cache (``use_cache = False``) recomputes every earlier position and
gives the same tokens (a test), only slower (``benchmarks/transformer_cache.py``).
"""

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from ..attention import lengths_to_mask
from ..config import check
from ..data.vocab import PAD_ID
from ..errors import InputError
from ..train.schedule import SCHEDULES
from .protocols import TranslationVariant, register_translation_model
from .transformer_layers import (
    ACTIVATIONS,
    POSITIONAL,
    DecoderLayer,
    EncoderLayer,
    PositionalEncoding,
    Stack,
    init_weights,
    scale_embedding,
)

ATTENTION_BACKENDS = ("auto", "seqlab", "torch")


def _check_sizes(prefix: str, d_model: int, heads: int, layers: dict, ff: int, dropout: float,
                 positional: str, max_len: int, activation: str, backend: str) -> None:  # fmt: skip
    check(d_model >= 1, f"{prefix}.d_model", d_model, "an integer >= 1")
    check(heads >= 1 and d_model % heads == 0, f"{prefix}.heads", heads,
          f"an integer >= 1 that divides d_model={d_model}")  # fmt: skip
    for name, value in layers.items():
        check(value >= 1, f"{prefix}.{name}", value, "an integer >= 1")
    check(ff >= 0, f"{prefix}.ff_size", ff, "an integer >= 0 (0 = 4 × d_model)")
    check(0 <= dropout < 1, f"{prefix}.dropout", dropout, "in [0, 1)")
    check(positional in POSITIONAL, f"{prefix}.positional", positional, f"one of {POSITIONAL}")
    check(max_len >= 1, f"{prefix}.max_len", max_len, "an integer >= 1")
    check(activation in ACTIVATIONS, f"{prefix}.activation", activation,
          f"one of {', '.join(ACTIVATIONS)}")  # fmt: skip
    check(backend in ATTENTION_BACKENDS, f"{prefix}.backend", backend,
          f"one of {', '.join(ATTENTION_BACKENDS)}")  # fmt: skip


@dataclass(frozen=True)
class TransformerConfig:
    """The ``transformer`` section of a translation experiment: the sizes of a
    :class:`Transformer`, and how it trains where that differs from the run's ``train`` section
    (the budget — steps, time — is always the run's)."""

    d_model: int = 128
    heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 2
    ff_size: int = 0  # 0: 4 × d_model
    dropout: float = 0.1
    activation: str = "relu"
    norm_first: bool = False  # False: post-norm (the paper); True: pre-norm
    positional: str = "sinusoidal"  # sinusoidal | learned
    max_len: int = 256  # positions of a learned table
    backend: str = "auto"  # the attention's: auto | seqlab | torch
    label_smoothing: float = 0.0  # ε of the paper (0.1 there)
    schedule: str = ""  # empty: train.schedule; "noam": the paper's warm-up then 1/√step
    warmup_steps: int = -1  # -1: train.warmup_steps
    lr: float = 0.0  # 0: train.lr (with "noam": the peak, reached at warmup_steps)
    beta2: float = 0.0  # 0: train.beta2 (the paper: 0.98)

    def __post_init__(self):
        _check_sizes("transformer", self.d_model, self.heads,
                     {"encoder_layers": self.encoder_layers, "decoder_layers": self.decoder_layers},
                     self.ff_size, self.dropout, self.positional, self.max_len, self.activation,
                     self.backend)  # fmt: skip
        check(0 <= self.label_smoothing < 1, "transformer.label_smoothing", self.label_smoothing,
              "in [0, 1)")  # fmt: skip
        check(self.warmup_steps >= -1, "transformer.warmup_steps", self.warmup_steps,
              "an integer >= 0, or -1 for train.warmup_steps")  # fmt: skip
        check(self.schedule in ("", *SCHEDULES), "transformer.schedule", self.schedule,
              f"empty (train.schedule) or one of {', '.join(SCHEDULES)}")  # fmt: skip
        check(self.lr >= 0, "transformer.lr", self.lr, ">= 0 (0 = train.lr)")
        check(0 <= self.beta2 < 1, "transformer.beta2", self.beta2, "in [0, 1) (0 = train.beta2)")

    def train_config(self, train):
        """The run's TrainConfig with this section's overrides applied (same budget)."""
        changes = {}
        if self.schedule:
            changes["schedule"] = self.schedule
        if self.warmup_steps >= 0:
            changes["warmup_steps"] = self.warmup_steps
        if self.lr:
            changes["lr"] = self.lr
        if self.beta2:
            changes["beta2"] = self.beta2
        return replace(train, **changes) if changes else train


class Transformer(nn.Module):
    """The encoder-decoder Transformer (module docstring for the equations); implements the
    translation model protocol.

    Args:
        source_vocab, target_vocab: ``V_src``, ``V_tgt`` (id 0 padding, 1 BOS, 2 EOS).
        d_model: ``E``. nhead: ``h`` (must divide E). num_encoder_layers, num_decoder_layers.
        dim_feedforward: the FFN's width (default 4E). dropout: on embeddings, attention
            weights, sub-layer outputs and inside the FFN. activation: ``"relu"`` or ``"gelu"``.
        norm_first: pre-norm (True) or the paper's post-norm (False).
        positional: ``"sinusoidal"`` or ``"learned"`` (a table of ``max_len`` positions).
        backend: of the attention (``"auto"``, ``"seqlab"``, ``"torch"``).

    Shapes: ``encode(source (B, S), lengths (B,))`` -> state (a dict of tensors with leading
    dim B: the source padding (B, S), each decoder layer's cross-attention K, V (B, h, S, d)
    and its self-attention cache (B, h, t, d), the tokens so far (B, t));
    ``step(tokens (N,), state)`` -> logits (N, V_tgt), state, the last layer's cross-attention
    averaged over heads (N, S); ``forward(source, lengths, previous (B, T))`` -> logits
    (B, T, V_tgt) and None; :meth:`attention_maps` gives every layer's and head's weights.

    Example::

        >>> model = Transformer(source_vocab=40, target_vocab=15, d_model=32, nhead=4)
        >>> source, lengths = torch.randint(4, 40, (2, 9)), torch.tensor([9, 6])
        >>> logits, _ = model(source, lengths, torch.randint(1, 15, (2, 5)))
        >>> logits.shape
        torch.Size([2, 5, 15])
        >>> hyps = seqlab.decode.greedy(model.step, model.encode(source, lengths), 2, 1, 2, 20)
        >>> hyps[0].alignment.shape[1]
        9
    """

    use_cache = True

    def __init__(self, source_vocab: int, target_vocab: int, d_model: int = 128, nhead: int = 4,
                 num_encoder_layers: int = 2, num_decoder_layers: int = 2,
                 dim_feedforward: int | None = None, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False,
                 positional: str = "sinusoidal", max_len: int = 256, backend: str = "auto",
                 config_key: str = "transformer.max_len"):  # fmt: skip
        super().__init__()
        layer = dict(nhead=nhead, dim_feedforward=dim_feedforward or 4 * d_model,
                     dropout=dropout, activation=activation, norm_first=norm_first,
                     backend=backend)  # fmt: skip
        self.d_model, self.nhead = d_model, nhead
        self.encoder = Stack(EncoderLayer, num_encoder_layers, d_model, **layer)
        self.decoder = Stack(DecoderLayer, num_decoder_layers, d_model, **layer)
        init_weights(self)
        self.source_embed = nn.Embedding(source_vocab, d_model, padding_idx=PAD_ID)
        self.target_embed = nn.Embedding(target_vocab, d_model, padding_idx=PAD_ID)
        for emb in (self.source_embed, self.target_embed):
            nn.init.normal_(emb.weight, std=d_model**-0.5)
            emb.weight.data[PAD_ID] = 0
        self.positional = PositionalEncoding(d_model, positional, max_len, config_key)
        self.dropout = nn.Dropout(dropout)
        self.generator = nn.Linear(d_model, target_vocab)

    @classmethod
    def from_config(cls, cfg: TransformerConfig, source_vocab: int, target_vocab: int):
        return cls(source_vocab, target_vocab, cfg.d_model, cfg.heads, cfg.encoder_layers,
                   cfg.decoder_layers, cfg.ff_size or None, cfg.dropout, cfg.activation,
                   cfg.norm_first, cfg.positional, cfg.max_len, cfg.backend)  # fmt: skip

    def _embed(self, embedding, ids: Tensor, offset: int = 0) -> Tensor:
        return self.dropout(self.positional(scale_embedding(embedding, ids), offset))

    # -- encoder ----------------------------------------------------------------------------
    def memory(self, source: Tensor, lengths: Tensor, need_weights: bool = False):
        """source (B, S), lengths (B,) -> (m (B, S, E), padding (B, S) True at padding, the
        encoder layers' self-attention weights (B, h, S, S) or Nones)."""
        if source.dim() != 2 or lengths.dim() != 1 or lengths.shape[0] != source.shape[0]:
            raise InputError(
                f"source {tuple(source.shape)} and lengths {tuple(lengths.shape)}: expected "
                "(B, S) token ids and (B,) lengths"
            )
        padding = ~lengths_to_mask(lengths.to(source.device), source.shape[1])  # (B, S)
        x, weights = self._embed(self.source_embed, source), []
        for layer in self.encoder.layers:
            x, w, _ = layer(x, padding, need_weights=need_weights)
            weights.append(w)
        return self.encoder.norm(x), padding, weights

    def encode(self, source: Tensor, lengths: Tensor) -> dict[str, Tensor]:
        """The decoder's first state: the memory's cross-attention K, V per layer (projected
        once), the source padding, empty self-attention caches and no tokens yet."""
        memory, padding, _ = self.memory(source, lengths)
        B, h, d = source.shape[0], self.nhead, self.d_model // self.nhead
        state = {"padding": padding, "tokens": source.new_zeros(B, 0)}
        for i, layer in enumerate(self.decoder.layers):
            state[f"cross_k{i}"], state[f"cross_v{i}"] = layer.memory_kv(memory)  # (B, h, S, d)
            state[f"k{i}"] = memory.new_zeros(B, h, 0, d)
            state[f"v{i}"] = memory.new_zeros(B, h, 0, d)
        return state

    # -- decoder ----------------------------------------------------------------------------
    def _decode(self, previous, state, need_weights=False, cached=False):
        """Decoder over ``previous`` (B, T) -> (z (B, T, E), [(self, cross) weights per
        layer], the new K, V per layer). ``cached``: previous is the one newest token and the
        state's caches hold the earlier ones."""
        offset = state["tokens"].shape[1] if cached else 0
        x = self._embed(self.target_embed, previous, offset)
        weights, kvs = [], []
        for i, layer in enumerate(self.decoder.layers):
            memory_kv = (state[f"cross_k{i}"], state[f"cross_v{i}"])
            cache = (state[f"k{i}"], state[f"v{i}"]) if cached else None
            last_layer = i == len(self.decoder.layers) - 1
            last = need_weights is True or (need_weights == "last" and last_layer)
            x, w, kv = layer(x, memory_kv, state["padding"], last, cache)
            weights.append(w)
            kvs.append(kv)
        return self.decoder.norm(x), weights, kvs

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict, Tensor]:
        """y_{i-1} (N,) -> logits of y_i (N, V_tgt), the state with this position's K, V
        appended, and the last layer's cross-attention averaged over heads (N, S)."""
        history = torch.cat([state["tokens"], tokens[:, None]], dim=1)  # (N, t)
        if self.use_cache:
            z, weights, kvs = self._decode(tokens[:, None], state, "last", cached=True)
        else:  # the same numbers from scratch: every earlier position recomputed
            z, weights, kvs = self._decode(history, state, "last")
        state = {**state, "tokens": history}
        for i, (k, v) in enumerate(kvs):
            state[f"k{i}"], state[f"v{i}"] = k, v
        cross = weights[-1][1][:, :, -1]  # (N, h, S) of the newest position
        return self.generator(z[:, -1]), state, cross.mean(dim=1)

    # -- teacher forcing ----------------------------------------------------------------------
    def forward(self, source: Tensor, lengths: Tensor, previous: Tensor) -> tuple[Tensor, None]:
        """source (B, S), lengths (B,), previous (B, T) -> logits (B, T, V_tgt), None (no
        weights are computed in training; :meth:`attention_maps` gives them)."""
        state = self.encode(source, lengths)
        z, _, _ = self._decode(previous, state)
        return self.generator(z), None

    @torch.no_grad()
    def attention_maps(self, source: Tensor, lengths: Tensor, previous: Tensor) -> dict:
        """Every layer's and head's attention weights for teacher-forced ``previous``:
        ``{"encoder": [(B, h, S, S)], "decoder": [(B, h, T, T)], "cross": [(B, h, T, S)]}``,
        one tensor per layer."""
        _, _, enc = self.memory(source, lengths, need_weights=True)
        _, weights, _ = self._decode(previous, self.encode(source, lengths), need_weights=True)
        return {
            "encoder": enc,
            "decoder": [w[0] for w in weights],
            "cross": [w[1] for w in weights],
        }

    def transform(self, src: Tensor, tgt: Tensor, src_padding: Tensor | None = None) -> Tensor:
        """The encoder and decoder stacks on given inputs src (B, S, E), tgt (B, T, E) -> z
        (B, T, E): what ``torch.nn.Transformer(src, tgt, tgt_mask=causal,
        src_key_padding_mask=..., memory_key_padding_mask=..., batch_first=True)`` computes."""
        x = src
        for layer in self.encoder.layers:
            x, _, _ = layer(x, src_padding)
        memory = self.encoder.norm(x)
        y = tgt
        for layer in self.decoder.layers:
            y, _, _ = layer(y, layer.memory_kv(memory), src_padding)
        return self.decoder.norm(y)


def describe(cfg: TransformerConfig) -> str:
    norm = "pre-norm" if cfg.norm_first else "post-norm"
    extra = []
    if cfg.label_smoothing:
        extra.append(f"label smoothing {cfg.label_smoothing:g}")
    if cfg.schedule:
        extra.append(f"{cfg.schedule} schedule")
    if cfg.lr:
        extra.append(f"lr {cfg.lr:g}")
    if cfg.warmup_steps >= 0:
        extra.append(f"{cfg.warmup_steps} warm-up steps")
    if cfg.beta2:
        extra.append(f"Adam β₂ {cfg.beta2:g}")
    return (
        f"Transformer {cfg.encoder_layers}+{cfg.decoder_layers} layers, d_model {cfg.d_model}, "
        f"{cfg.heads} heads, FFN {cfg.ff_size or 4 * cfg.d_model} ({cfg.activation}), {norm}, "
        f"{cfg.positional} positions, dropout {cfg.dropout:g}"
        + "".join(f", {e}" for e in extra)
        + f" (attention backend {cfg.backend})"
    )


register_translation_model(
    TranslationVariant(
        name="transformer",
        label="Transformer",
        section="transformer",
        build=lambda cfg, src, tgt: Transformer.from_config(cfg, src, tgt),
        describe=describe,
        attends=True,
    )
)
