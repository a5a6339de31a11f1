"""Small recurrent networks for the topologies of Karpathy's "Unreasonable Effectiveness of
Recurrent Neural Networks" diagram, built on the engine (``seqlab.RNN/LSTM/GRU``).

One-to-one and synced many-to-many need nothing beyond :class:`~.tagger.SequenceTagger` (run
for one step, or read out at every frame). The other three:

:class:`SequenceClassifier` (many-to-one), read out once, at each sequence's last frame::

    e_t = E[x_t]                      (B, T, E)
    z_t = RNN(e_t, z_{t-1})           (B, T, H)   for t = 1 … L (each row's own length L)
    o   = V z_L + b                   (B, C)      logits of the label

:class:`Decoder` (the generating half of one-to-many and sequence-to-sequence)::

    z_t = RNN(E[y_{t-1}], z_{t-1}),   y_0 = BOS   (B, T, H)
    o_t = V z_t + b                   (B, T, V)   logits of y_t

In training ``y_{t-1}`` is the target's previous token (teacher forcing); in generation it is
the model's own previous argmax, through :func:`seqlab.decode.greedy` and the decoding step
protocol. Token ids follow :mod:`seqlab.data.vocab`: 0 padding, 1 BOS, 2 EOS, tokens from 4.
:class:`ClassToSequence` (one-to-many) starts the decoder from ``z_0 = tanh(C[class])``;
:class:`EncoderDecoder` (sequence-to-sequence, no attention) starts it from the encoder's final
state ``z_L`` — the only path from source to target, a fixed-size summary of the whole input.
"""

import torch
from torch import Tensor, nn

from ..data.vocab import BOS_ID, EOS_ID, PAD_ID
from ..decode import greedy
from .layers import batch_major, layer_major, recurrent_layer


def top_hidden(state) -> Tensor:
    """(B, H) hidden state of the last layer from an engine final state (h or (h, c))."""
    h = state[0] if isinstance(state, tuple) else state  # (L·D, B, H)
    return h[-1]


class SequenceClassifier(nn.Module):
    """Many-to-one: token sequences read out once, at each sequence's own last frame.

    Args: vocab_size ``V`` of the inputs (0 is padding), embedding_size ``E``, hidden_size
    ``H``, num_classes ``C``, cell (``"rnn"``, ``"lstm"``, ``"gru"``), backend of the engine.

    Inputs: ``x`` (B, T) token ids, ``lengths`` (B,). Output: label logits (B, C).

    Example::

        >>> model = SequenceClassifier(14, 16, 64, 10, "gru")
        >>> model(torch.randint(4, 14, (8, 10)), torch.full((8,), 10)).shape
        torch.Size([8, 10])
    """

    def __init__(self, vocab_size, embedding_size, hidden_size, num_classes, cell, backend="auto"):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD_ID)
        self.rnn = recurrent_layer(cell, embedding_size, hidden_size, backend=backend)
        self.readout = nn.Linear(hidden_size, num_classes)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        # Past its length a row's state stays put, so the final state is z_L of each row.
        _, state = self.rnn(self.embed(x), None, lengths)  # (1, B, H)
        return self.readout(top_hidden(state))  # (B, C)


class Decoder(nn.Module):
    """Autoregressive token decoder over a vocabulary of ``V`` ids (specials included).

    ``forward(previous (B, T), state)`` gives teacher-forced logits (B, T, V) from an engine
    state ((1, B, H), or a pair for the LSTM); :meth:`step` is the decoding step protocol, with
    the state batch-first; :meth:`generate` decodes greedily to (B, max_steps) ids.
    """

    def __init__(self, vocab_size, embedding_size, hidden_size, cell, backend="auto"):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD_ID)
        self.rnn = recurrent_layer(cell, embedding_size, hidden_size, backend=backend)
        self.readout = nn.Linear(hidden_size, vocab_size)

    def forward(self, previous: Tensor, state) -> tuple[Tensor, object]:
        z, state = self.rnn(self.embed(previous), state)  # (B, T, H)
        return self.readout(z), state  # (B, T, V)

    def step(self, tokens: Tensor, state) -> tuple[Tensor, object, None]:
        logits, state = self(tokens[:, None], layer_major(state))  # (N, 1, V)
        return logits[:, 0], batch_major(state), None

    @torch.no_grad()
    def generate(self, state, max_steps: int) -> Tensor:
        """Greedy tokens (B, max_steps) from an engine state: each row's ids up to and
        including its EOS, then padding."""
        rows = state[0].shape[1] if isinstance(state, tuple) else state.shape[1]
        found = greedy(self.step, batch_major(state), rows, BOS_ID, EOS_ID, max_steps)
        out = torch.full((rows, max_steps), PAD_ID, dtype=torch.long)
        for b, hyp in enumerate(found):
            ids = hyp.tokens + ([EOS_ID] if hyp.finished else [])
            out[b, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out.to(self.readout.weight.device)


def _like_state(h0: Tensor, cell: str):
    """An engine initial state from hidden values (1, B, H): LSTM cells start at zero."""
    return (h0, torch.zeros_like(h0)) if cell == "lstm" else h0


class ClassToSequence(nn.Module):
    """One-to-many: a class id (B,) -> a token sequence, ``z_0 = tanh(C[class])``.

    ``forward(classes, previous)`` gives teacher-forced logits (B, T, V);
    :meth:`generate` the greedy tokens (B, max_steps).
    """

    def __init__(self, num_classes, vocab_size, embedding_size, hidden_size, cell, backend="auto"):
        super().__init__()
        self.cell = cell
        self.initial = nn.Embedding(num_classes, hidden_size)
        self.decoder = Decoder(vocab_size, embedding_size, hidden_size, cell, backend)

    def start(self, classes: Tensor):
        return _like_state(torch.tanh(self.initial(classes)).unsqueeze(0), self.cell)  # (1, B, H)

    def forward(self, classes: Tensor, previous: Tensor) -> Tensor:
        return self.decoder(previous, self.start(classes))[0]

    def generate(self, classes: Tensor, max_steps: int) -> Tensor:
        return self.decoder.generate(self.start(classes), max_steps)


class EncoderDecoder(nn.Module):
    """Sequence-to-sequence without attention: the encoder's final state (after each source's
    own length) is the decoder's initial state.

    ``forward(src (B, S), lengths (B,), previous (B, T))`` gives teacher-forced logits
    (B, T, V); :meth:`generate` the greedy tokens (B, max_steps). Source and target share one
    vocabulary of ``vocab_size`` ids.
    """

    def __init__(self, vocab_size, embedding_size, hidden_size, cell, backend="auto"):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD_ID)
        self.encoder = recurrent_layer(cell, embedding_size, hidden_size, backend=backend)
        self.decoder = Decoder(vocab_size, embedding_size, hidden_size, cell, backend)

    def encode(self, src: Tensor, lengths: Tensor):
        return self.encoder(self.embed(src), None, lengths)[1]  # (1, B, H) or (h, c)

    def forward(self, src: Tensor, lengths: Tensor, previous: Tensor) -> Tensor:
        return self.decoder(previous, self.encode(src, lengths))[0]

    def generate(self, src: Tensor, lengths: Tensor, max_steps: int) -> Tensor:
        return self.decoder.generate(self.encode(src, lengths), max_steps)
