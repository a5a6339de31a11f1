"""A character-level language model: embedding -> stacked recurrent network -> vocabulary logits.

    e_t = E[x_t]                          (B, T, E)   embedding of the character ids
    h_t = RNN(e_t, h_{t-1})               (B, T, H)   L stacked LSTM / GRU / RNN layers
    p(x_{t+1} | x_<=t) = softmax(V h_t + b)   (B, T, V)

Trained with next-character cross-entropy; the recurrent state is returned so truncated BPTT
can carry it from one chunk of text to the next, and so sampling can feed one character at a
time.
"""

import torch
from torch import Tensor, nn

from .. import recurrent
from ..errors import InputError

CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
BACKENDS = ("seqlab", "auto", "torch.nn")


class CharLM(nn.Module):
    """Args:
    vocab_size: ``V``, the number of distinct characters.
    embedding_size: ``E``.
    hidden_size: ``H`` of every recurrent layer.
    num_layers: ``L``.
    cell: ``"lstm"``, ``"gru"`` or ``"rnn"`` (tanh).
    dropout: between recurrent layers and before the read-out.
    backend: ``"seqlab"`` (the hand-derived BPTT engine), ``"auto"`` (seqlab's module, which
        runs torch's fused kernel where the configuration is one torch has) or ``"torch.nn"``
        (the :mod:`torch.nn` module itself; same parameter names, so checkpoints move across).
    layer_norm: the layer-normalised LSTM/GRU (seqlab backends only).
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
    ):
        super().__init__()
        if cell not in CELLS:
            raise InputError(f"cell={cell!r}: expected one of {sorted(CELLS)}")
        if backend not in BACKENDS:
            raise InputError(f"backend={backend!r}: expected one of {BACKENDS}")
        if layer_norm and (backend == "torch.nn" or cell == "rnn"):
            raise InputError(
                "layer_norm=True needs cell='lstm' or 'gru' and a seqlab backend "
                "('seqlab' or 'auto'); torch.nn has no layer-normalised RNN"
            )
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        args = (embedding_size, hidden_size, num_layers)
        kwargs = {"batch_first": True, "dropout": dropout if num_layers > 1 else 0.0}
        if backend == "torch.nn":
            self.rnn = getattr(nn, CELLS[cell])(*args, **kwargs)
        else:
            if layer_norm:
                kwargs["layer_norm"] = True
            self.rnn = getattr(recurrent, CELLS[cell])(*args, backend=backend, **kwargs)
        self.dropout = nn.Dropout(dropout)
        self.readout = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: Tensor, state=None) -> tuple[Tensor, object]:
        """ids (B, T) int64 -> logits (B, T, V) and the final state (as the recurrent module's:
        ``h_n`` (L, B, H), or ``(h_n, c_n)`` for the LSTM)."""
        out, state = self.rnn(self.embedding(ids), state)  # (B, T, H)
        return self.readout(self.dropout(out)), state


@torch.no_grad()
def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
