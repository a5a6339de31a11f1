"""A character-level language model: embedding -> stacked recurrent network -> vocabulary logits.

    e_t = E[x_t]                              (B, T, E)   embedding of the character ids
    h_t = RNN(e_t, h_{t-1})                   (B, T, H)   L stacked LSTM / GRU / RNN layers
    p(x_{t+1} | x_<=t) = softmax(V h_t + b)   (B, T, V)

Trained with next-character cross-entropy; the recurrent state is returned so truncated BPTT
can carry it from one chunk of text to the next, and :meth:`CharLM.step` feeds one character
at a time to :mod:`seqlab.decode` (sampling, greedy, beam search).
"""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..config import check
from ..recurrent.gru import RESETS
from ..recurrent.lstm import PEEPHOLES
from .layers import (
    BACKENDS,
    CELLS,
    VARIANT_BACKENDS,
    batch_major,
    layer_major,
    recurrent_layer,
)
from .transformer_layers import ACTIVATIONS, POSITIONAL
from .transformer_lm import TransformerLM

KINDS = ("rnn", "transformer")


@dataclass(frozen=True)
class CharLMConfig:
    """The sizes of a :class:`CharLM` (the ``model`` section of ``seqlab run charlm``), or with
    ``kind="transformer"`` of a :class:`~.transformer_lm.TransformerLM`: then ``hidden_size``
    is d_model, ``num_layers`` the blocks, ``heads``, ``ff_size`` (0 = 4 × d_model),
    ``max_len``, ``positional``, ``norm_first`` and ``activation`` its own settings,
    ``backend`` the attention's (``torch.nn`` reads as ``torch``), and ``cell``,
    ``embedding_size``, ``layer_norm``, ``peephole`` and ``reset`` play no part.

    The recurrent variants the lecture draws: ``peephole`` (``None``, ``"diagonal"`` or
    ``"full"``, the output gate's ``V_o c_t``) for ``cell="lstm"``, ``reset="before"`` (Cho et
    al., the lecture's GRU; ``"after"`` is torch's) for ``cell="gru"``, both on the backends
    ``seqlab`` or ``auto``. Configurations saved before they existed load with the defaults,
    today's LSTM and GRU."""

    kind: str = "rnn"  # rnn | transformer
    cell: str = "lstm"
    backend: str = "seqlab"
    embedding_size: int = 64
    hidden_size: int = 512
    num_layers: int = 1
    dropout: float = 0.0
    layer_norm: bool = False
    peephole: str | None = None  # None | diagonal | full (the lecture's V_o c_t); cell=lstm
    reset: str = "after"  # after (torch) | before (the lecture's GRU); cell=gru
    heads: int = 4
    ff_size: int = 0
    max_len: int = 256
    positional: str = "learned"
    norm_first: bool = True
    activation: str = "gelu"

    def __post_init__(self):
        check(self.kind in KINDS, "model.kind", self.kind, f"one of {', '.join(KINDS)}")
        if self.kind == "transformer":
            check(
                self.heads >= 1 and self.hidden_size % self.heads == 0,
                "model.heads",
                self.heads,
                f"an integer >= 1 dividing model.hidden_size={self.hidden_size}",
            )
            check(self.ff_size >= 0, "model.ff_size", self.ff_size, ">= 0 (0 = 4 × hidden_size)")
            check(self.max_len >= 2, "model.max_len", self.max_len, "an integer >= 2")
            check(
                self.positional in POSITIONAL,
                "model.positional",
                self.positional,
                f"one of {', '.join(POSITIONAL)}",
            )
            check(self.activation in ACTIVATIONS, "model.activation", self.activation,
                  f"one of {', '.join(ACTIVATIONS)}")  # fmt: skip
        check(self.cell in CELLS, "model.cell", self.cell, f"one of {', '.join(CELLS)}")
        check(self.backend in BACKENDS, "model.backend", self.backend, f"one of {BACKENDS}")
        for name in ("embedding_size", "hidden_size", "num_layers"):
            check(getattr(self, name) >= 1, f"model.{name}", getattr(self, name), "an integer >= 1")
        check(0 <= self.dropout < 1, "model.dropout", self.dropout, "in [0, 1)")
        check(
            not self.layer_norm or (self.cell != "rnn" and self.backend != "torch.nn"),
            "model.layer_norm",
            self.layer_norm,
            "False with cell=rnn or backend=torch.nn (layer norm needs seqlab's LSTM or GRU)",
        )
        check(self.peephole in PEEPHOLES, "model.peephole", self.peephole,
              "none, diagonal or full")  # fmt: skip
        check(self.reset in RESETS, "model.reset", self.reset, f"one of {', '.join(RESETS)}")
        check(self.peephole is None or (self.cell == "lstm" and self.backend in VARIANT_BACKENDS),
              "model.peephole", self.peephole,
              "none unless cell=lstm with backend seqlab or auto (torch's LSTM has no peephole)",
              )  # fmt: skip
        check(self.reset == "after" or (self.cell == "gru" and self.backend in VARIANT_BACKENDS),
              "model.reset", self.reset,
              "after unless cell=gru with backend seqlab or auto (torch's GRU resets after)",
              )  # fmt: skip


class CharLM(nn.Module):
    """A character-level language model.

    Args:
        vocab_size: ``V``, the number of distinct characters.
        embedding_size: ``E``.
        hidden_size: ``H`` of every recurrent layer.
        num_layers: ``L``.
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"`` (tanh).
        dropout: between recurrent layers and before the read-out.
        backend: ``"seqlab"`` (the hand-derived BPTT engine), ``"auto"`` (seqlab's module, which
            runs torch's fused kernel where the configuration is one torch has), ``"torch"``
            (seqlab's module, always torch's kernel) or ``"torch.nn"`` (the :mod:`torch.nn`
            module itself; same parameter names, so checkpoints move across).
        layer_norm: the layer-normalised LSTM/GRU (seqlab backends only).
        peephole: the LSTM's peephole, ``None``, ``"diagonal"`` or ``"full"`` (``V_o c_t``).
        reset: the GRU's reset, ``"after"`` (torch's) or ``"before"`` (the lecture's).

    Inputs: ``ids`` (B, T) int64, ``state`` (optional) as the recurrent module returns it.
    Outputs: logits (B, T, V) and the final state (``h_n`` (L, B, H), or ``(h_n, c_n)``).

    Example::

        >>> model = CharLM(vocab_size=80, hidden_size=128, cell="gru")
        >>> logits, state = model(torch.randint(80, (4, 32)))
        >>> logits.shape
        torch.Size([4, 32, 80])
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int = 64,
        hidden_size: int = 512,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        backend: str = "seqlab",
        layer_norm: bool = False,
        peephole: str | None = None,
        reset: str = "after",
    ):
        super().__init__()
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn = recurrent_layer(
            cell,
            embedding_size,
            hidden_size,
            num_layers,
            backend=backend,
            dropout=dropout,
            layer_norm=layer_norm,
            peephole=peephole,
            reset=reset,
        )
        self.dropout = nn.Dropout(dropout)
        self.readout = nn.Linear(hidden_size, vocab_size)

    @classmethod
    def from_config(cls, cfg: CharLMConfig, vocab_size: int) -> "CharLM":
        return cls(
            vocab_size,
            cfg.embedding_size,
            cfg.hidden_size,
            cfg.num_layers,
            cfg.cell,
            cfg.dropout,
            cfg.backend,
            cfg.layer_norm,
            cfg.peephole,
            cfg.reset,
        )

    def forward(self, ids: Tensor, state=None) -> tuple[Tensor, object]:
        out, state = self.rnn(self.embedding(ids), state)  # (B, T, H)
        return self.readout(self.dropout(out)), state  # (B, T, V)

    def step(self, tokens: Tensor, state=None) -> tuple[Tensor, object, None]:
        """The decoding step protocol (:mod:`seqlab.models.protocols`): tokens (N,) -> logits
        (N, V), the state batch-first ((N, L, H), or a pair for the LSTM), no attention."""
        logits, state = self(tokens[:, None], layer_major(state))  # (N, 1, V)
        return logits[:, 0], batch_major(state), None


def build_charlm(cfg: CharLMConfig, vocab_size: int) -> nn.Module:
    """The ``model`` section's language model: a :class:`CharLM` or a :class:`TransformerLM`."""
    if cfg.kind == "rnn":
        return CharLM.from_config(cfg, vocab_size)
    return TransformerLM(
        vocab_size, cfg.hidden_size, cfg.heads, cfg.num_layers, cfg.ff_size or None, cfg.dropout,
        cfg.activation, cfg.norm_first, cfg.positional, cfg.max_len,
        backend="torch" if cfg.backend == "torch.nn" else cfg.backend,
    )  # fmt: skip


def model_kind(state_dict: dict) -> str:
    """What kind of language model a state dict's parameter names come from."""
    if any(k.startswith("stack.") for k in state_dict):
        return "transformer"
    return "rnn" if any(k.startswith("rnn.") for k in state_dict) else "unknown"


def describe_charlm(cfg: CharLMConfig) -> str:
    """The model in a few words, e.g. ``1×512 GRU (seqlab)`` or ``Transformer 4×256, 4 heads``."""
    if cfg.kind == "transformer":
        return (
            f"Transformer {cfg.num_layers}×{cfg.hidden_size}, {cfg.heads} heads, "
            f"{'pre' if cfg.norm_first else 'post'}-norm, context {cfg.max_len}"
        )
    size = f"{cfg.num_layers}×{cfg.hidden_size}"
    return f"{size} {cfg.cell.upper()} ({cfg.backend}{variant_words(cfg)})"


def variant_words(cfg: CharLMConfig) -> str:
    """The recurrent variant as a tail of words: ``""`` for the plain cell, else e.g.
    ``", peephole V_o c_t"``, ``", reset before"`` or ``", layer norm"``."""
    words = []
    if cfg.peephole is not None:
        words.append("peephole V_o c_t" if cfg.peephole == "full" else "diagonal peephole")
    if cfg.reset == "before":
        words.append("reset before")
    if cfg.layer_norm:
        words.append("layer norm")
    return "".join(f", {w}" for w in words)


@torch.no_grad()
def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
