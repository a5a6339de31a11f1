"""Encoder-decoder translation: a bidirectional recurrent encoder, and a decoder that either
attends over every source position (Bahdanau et al. 2015) or sees one fixed context vector
(Cho et al. 2014; Sutskever et al. 2014) — the same sizes either way, so the two compare fairly.

Encoder, over the source embeddings ``x_j = E_src[x_j]`` (B, S, E)::

    h_j = [→h_j ; ←h_j]                    (B, S, 2H)   seqlab bidirectional GRU or LSTM
    s_0 = tanh(W_s [→h_L ; ←h_1])          (B, H_dec)   both directions' final states

Decoder step ``i`` (``y_0`` = BOS; teacher forcing feeds the reference's ``y_{i-1}`` in
training, :mod:`seqlab.decode` feeds the model's own choice)::

    c_i = Σ_j α_ij h_j,  α_i = attention(s_{i-1}, h)     attention = "additive" | "general" | "dot"
    c_i = [→h_L ; ←h_1]                                   attention = "none" (fixed context)
    s_i = cell([E_tgt[y_{i-1}] ; c_i], s_{i-1})           (B, H_dec)   seqlab GRUCell / LSTMCell
    o_i = V_o tanh(W_o [s_i ; c_i ; E_tgt[y_{i-1}]])      (B, V_tgt)   logits of y_i

The read-out sees ``s_i``, ``c_i`` and ``y_{i-1}`` as in both papers; a tanh layer stands in
for Bahdanau's maxout. Padding (id 0) never receives attention: the source mask zeroes it.
"""

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from ..attention import AdditiveAttention, DotAttention, GeneralAttention, lengths_to_mask
from ..config import check
from ..data.vocab import PAD_ID
from ..errors import InputError
from .layers import BACKENDS, recurrent_cell, recurrent_layer
from .layers import CELLS as LAYER_CELLS
from .protocols import TranslationVariant, register_translation_model

ATTENTIONS = ("additive", "general", "dot", "none")
# The decoder's state is one vector (GRU) or a pair (LSTM); the vanilla RNN is left out.
CELLS = tuple(c for c in LAYER_CELLS if c != "rnn")


@dataclass(frozen=True)
class Seq2SeqConfig:
    """The sizes of a :class:`Seq2Seq` (the ``rnn`` section of a translation experiment);
    the attention kind comes from the variant (``models=additive,none``)."""

    embedding_size: int = 64
    hidden_size: int = 64  # of each encoder direction
    decoder_size: int = 0  # 0: 2 × hidden_size
    attention_size: int = 64
    readout_size: int = 128
    cell: str = "gru"
    dropout: float = 0.0
    backend: str = "auto"  # the engine's: auto | seqlab | torch | torch.nn

    def __post_init__(self):
        for name in ("embedding_size", "hidden_size", "attention_size", "readout_size"):
            value = getattr(self, name)
            check(value >= 1, f"rnn.{name}", value, "an integer >= 1")
        check(self.decoder_size >= 0, "rnn.decoder_size", self.decoder_size, ">= 0 (0 = 2H)")
        check(self.cell in CELLS, "rnn.cell", self.cell, f"one of {', '.join(CELLS)}")
        check(0 <= self.dropout < 1, "rnn.dropout", self.dropout, "in [0, 1)")
        check(self.backend in BACKENDS, "rnn.backend", self.backend, f"one of {BACKENDS}")


class Seq2Seq(nn.Module):
    """Encoder-decoder with additive / Luong attention or a fixed context (module docstring for
    the equations); implements the translation model protocol (:mod:`.protocols`).

    Args:
        source_vocab, target_vocab: vocabulary sizes ``V_src``, ``V_tgt`` (id 0 is padding,
            1 BOS, 2 EOS: :mod:`seqlab.data.vocab`).
        embedding_size: ``E``. hidden_size: ``H`` of each encoder direction.
        decoder_size: ``H_dec`` (default 2H). attention_size: ``A`` (additive only).
        readout_size: of the tanh read-out layer.
        attention: ``"additive"`` (Bahdanau), ``"general"``/``"dot"`` (Luong's scores with
            Bahdanau's wiring: the query is ``s_{i-1}``) or ``"none"`` (the fixed-context
            baseline, same sizes).
        cell: ``"gru"`` or ``"lstm"`` for both encoder and decoder.
        dropout: on embeddings and before the read-out. backend: the engine's (``"auto"``,
            ``"seqlab"``, ``"torch"``) or ``"torch.nn"``.

    Shapes: ``B`` batch, ``S`` source length, ``T`` target length.

    - ``encode(source (B, S), lengths (B,))`` -> the decoder's first state (a dict of tensors
      with leading dim B).
    - ``step(tokens (N,), state)`` -> logits (N, V_tgt), the next state, α (N, S) or None.
    - ``forward(source (B, S), lengths (B,), previous (B, T))`` -> logits (B, T, V_tgt) and the
      alignment α (B, T, S) (None without attention); ``previous`` is BOS then the target
      shifted right (teacher forcing).

    Example::

        >>> model = Seq2Seq(source_vocab=40, target_vocab=15, attention="additive")
        >>> source, lengths = torch.randint(4, 40, (2, 9)), torch.tensor([9, 6])
        >>> logits, alignment = model(source, lengths, torch.randint(1, 15, (2, 5)))
        >>> logits.shape, alignment.shape
        (torch.Size([2, 5, 15]), torch.Size([2, 5, 9]))
        >>> hyps = seqlab.decode.greedy(model.step, model.encode(source, lengths), 2, 1, 2, 20)
    """

    def __init__(
        self,
        source_vocab: int,
        target_vocab: int,
        embedding_size: int = 64,
        hidden_size: int = 64,
        decoder_size: int | None = None,
        attention_size: int = 64,
        readout_size: int = 128,
        attention: str = "additive",
        cell: str = "gru",
        dropout: float = 0.0,
        backend: str = "auto",
    ):
        super().__init__()
        if attention not in ATTENTIONS:
            raise InputError(f"attention={attention!r}: expected one of {', '.join(ATTENTIONS)}")
        if cell not in CELLS:
            raise InputError(f"cell={cell!r}: expected one of {', '.join(CELLS)}")
        decoder_size = decoder_size or 2 * hidden_size
        if attention == "dot" and decoder_size != 2 * hidden_size:
            raise InputError(
                f"attention='dot' scores s·h, so decoder_size ({decoder_size}) must equal "
                f"2 × hidden_size ({2 * hidden_size}); or use attention='general'"
            )
        self.attention_kind, self.cell_kind = attention, cell
        self.target_vocab = target_vocab
        key_size = 2 * hidden_size
        self.source_embed = nn.Embedding(source_vocab, embedding_size, padding_idx=PAD_ID)
        self.target_embed = nn.Embedding(target_vocab, embedding_size, padding_idx=PAD_ID)
        self.encoder = recurrent_layer(
            cell, embedding_size, hidden_size, backend=backend, bidirectional=True
        )
        self.bridge = nn.Linear(key_size, decoder_size)  # W_s
        if attention == "additive":
            self.attention = AdditiveAttention(decoder_size, key_size, attention_size)
        elif attention == "general":
            self.attention = GeneralAttention(decoder_size, key_size)
        elif attention == "dot":
            self.attention = DotAttention()
        else:
            self.attention = None
        self.decoder = recurrent_cell(
            cell, embedding_size + key_size, decoder_size, backend=backend
        )
        self.dropout = nn.Dropout(dropout)
        self.readout = nn.Sequential(
            nn.Linear(decoder_size + key_size + embedding_size, readout_size),  # W_o
            nn.Tanh(),
            nn.Linear(readout_size, target_vocab),  # V_o
        )

    @classmethod
    def from_config(cls, cfg: Seq2SeqConfig, attention: str, source_vocab: int, target_vocab: int):
        return cls(
            source_vocab,
            target_vocab,
            embedding_size=cfg.embedding_size,
            hidden_size=cfg.hidden_size,
            decoder_size=cfg.decoder_size or None,
            attention_size=cfg.attention_size,
            readout_size=cfg.readout_size,
            attention=attention,
            cell=cfg.cell,
            dropout=cfg.dropout,
            backend=cfg.backend,
        )

    # -- encoder --------------------------------------------------------------------------
    def encode(self, source: Tensor, lengths: Tensor) -> dict[str, Tensor]:
        """source (B, S) ids, lengths (B,) -> the decoder's starting state (a dict of tensors
        with leading dim B, as :mod:`seqlab.decode` expects): ``s`` (and ``cell`` for the
        LSTM), ``keys`` (B, S, 2H), ``mask`` (B, S), ``fixed`` (B, 2H) and, for additive
        attention, ``projected`` (B, S, A)."""
        if source.dim() != 2 or lengths.dim() != 1 or lengths.shape[0] != source.shape[0]:
            raise InputError(
                f"source {tuple(source.shape)} and lengths {tuple(lengths.shape)}: expected "
                "(B, S) token ids and (B,) lengths"
            )
        keys, final = self.encoder(self.dropout(self.source_embed(source)), None, lengths)
        h = final[0] if isinstance(final, tuple) else final  # (2, B, H): forward, backward
        fixed = torch.cat([h[0], h[1]], dim=-1)  # (B, 2H) = [→h_L ; ←h_1]
        state = {
            "s": torch.tanh(self.bridge(fixed)),  # (B, H_dec)
            "keys": keys,  # (B, S, 2H); zeros past each length
            "mask": lengths_to_mask(lengths.to(source.device), source.shape[1]),  # (B, S)
            "fixed": fixed,
        }
        if self.cell_kind == "lstm":
            state["cell"] = torch.zeros_like(state["s"])
        if isinstance(self.attention, AdditiveAttention):
            state["projected"] = self.attention.project_keys(keys)  # (B, S, A)
        return state

    # -- one decoder step -------------------------------------------------------------------
    def _advance(self, embedded: Tensor, state: dict) -> tuple[Tensor, Tensor, Tensor | None]:
        """One step from y_{i-1}'s embedding (N, E): the read-out's input (N, H_dec+2H+E),
        the new state, and α_i (N, S) or None."""
        s_prev = state["s"]
        if self.attention is None:
            context, weights = state["fixed"], None
        elif isinstance(self.attention, AdditiveAttention):
            context, weights = self.attention(
                s_prev, state["keys"], state["mask"], projected_keys=state["projected"]
            )
        else:
            context, weights = self.attention(s_prev, state["keys"], state["mask"])
        cell_in = torch.cat([embedded, context], dim=-1)  # (N, E + 2H)
        if self.cell_kind == "lstm":
            s, c = self.decoder(cell_in, (s_prev, state["cell"]))
            state = {**state, "s": s, "cell": c}
        else:
            s = self.decoder(cell_in, s_prev)
            state = {**state, "s": s}
        features = torch.cat([self.dropout(s), context, embedded], dim=-1)
        return features, state, weights

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict, Tensor | None]:
        """The step function of :mod:`seqlab.decode`: y_{i-1} (N,) -> logits (N, V_tgt), the
        next state and α_i (N, S) (None without attention)."""
        features, state, weights = self._advance(self.dropout(self.target_embed(tokens)), state)
        return self.readout(features), state, weights

    # -- teacher forcing ----------------------------------------------------------------------
    def forward(
        self, source: Tensor, lengths: Tensor, previous: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        """source (B, S), lengths (B,), previous (B, T) = [BOS, y_1 … y_{T-1}] -> logits
        (B, T, V_tgt) and the alignment α (B, T, S) (None without attention)."""
        state = self.encode(source, lengths)
        embedded = self.dropout(self.target_embed(previous))  # (B, T, E)
        features, alignment = [], []
        for i in range(previous.shape[1]):
            f, state, weights = self._advance(embedded[:, i], state)
            features.append(f)
            alignment.append(weights)
        logits = self.readout(torch.stack(features, dim=1))  # (B, T, V_tgt)
        if self.attention is None:
            return logits, None
        return logits, torch.stack(alignment, dim=1)  # (B, T, S)


def describe(cfg: Seq2SeqConfig, attention: str) -> str:
    """A sentence for reports: the sizes as configured."""
    c = cfg.cell.upper()
    dec = cfg.decoder_size or 2 * cfg.hidden_size
    context = {
        "additive": f"additive attention {cfg.attention_size}",
        "general": "general (bilinear) attention",
        "dot": "dot-product attention",
        "none": "a fixed context [→h_L ; ←h_1]",
    }[attention]
    return (
        f"bidirectional {c} encoder {cfg.hidden_size}+{cfg.hidden_size}, {c} decoder {dec} with "
        f"{context}, embeddings {cfg.embedding_size}, tanh read-out {cfg.readout_size}"
        + (f", dropout {cfg.dropout:g}" if cfg.dropout else "")
        + f" (backend {cfg.backend})"
    )


LABELS = {
    "additive": "attention (additive)",
    "general": "attention (general)",
    "dot": "attention (dot)",
    "none": "fixed context",
}


def _builder(attention: str):
    def build(cfg: Seq2SeqConfig, source_vocab: int, target_vocab: int) -> Seq2Seq:
        return Seq2Seq.from_config(cfg, attention, source_vocab, target_vocab)

    return build


for _kind, _label in LABELS.items():
    register_translation_model(
        TranslationVariant(
            name=_kind,
            label=_label,
            section="rnn",
            build=_builder(_kind),
            describe=partial(describe, attention=_kind),
            attends=_kind != "none",
        )
    )
