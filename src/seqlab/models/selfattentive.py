"""Lin et al. 2017's self-attentive sentence classifier, and the per-step keyword classifier.

Self-attentive (:class:`SelfAttentiveClassifier`)::

    x_t = Embedding(w_t)                          (B, T, E)
    H   = BiLSTM(x)                               (B, T, 2u)   seqlab.LSTM, lengths masked
    M, A = StructuredSelfAttention(H, mask)       M (B, r, 2u), A (B, r, T)
    y   = W_2 relu(W_1 flatten(M) + b_1) + b_2    (B, C)       logits

Keyword classifier (:class:`KeywordClassifier`), the lecture's network that reads a sentence
word by word and gives a class distribution at every step::

    x_t = Embedding(w_t),  h_t = LSTM(x_t, h_{t-1}),  p_t = softmax(V h_t + b)   (B, T, C)
"""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..attention.core import lengths_to_mask
from ..attention.structured import StructuredSelfAttention
from ..config import check
from .layers import recurrent_layer


@dataclass(frozen=True)
class SelfAttentiveConfig:
    embedding_size: int = 100  # E
    hidden_size: int = 64  # u, per direction
    attention_size: int = 64  # d_a
    hops: int = 4  # r
    mlp_size: int = 128
    dropout: float = 0.3  # on the embeddings and before the last layer
    backend: str = "auto"

    def __post_init__(self):
        for name in ("embedding_size", "hidden_size", "attention_size", "mlp_size"):
            check(getattr(self, name) >= 1, f"model.{name}", getattr(self, name), "an integer >= 1")
        check(self.hops >= 1, "model.hops", self.hops, "an integer >= 1 (r, the attention hops)")
        check(0 <= self.dropout < 1, "model.dropout", self.dropout, "in [0, 1)")


class SelfAttentiveClassifier(nn.Module):
    """Embedding → bidirectional seqlab LSTM → structured self-attention → MLP (module doc).

    Args: vocab_size V (id 0 is padding), num_classes C, and the sizes of
    :class:`SelfAttentiveConfig` as keywords.

    Inputs: ``tokens`` (B, T) int64 ids, ``lengths`` (B,) or None (every row full).
    Outputs: ``(logits (B, C), A (B, r, T))``; A is 0 past each length.

    Example::

        >>> model = SelfAttentiveClassifier(vocab_size=20, num_classes=2, embedding_size=8,
        ...                                 hidden_size=5, attention_size=6, hops=3)
        >>> logits, A = model(torch.tensor([[4, 5, 6], [7, 8, 0]]), torch.tensor([3, 2]))
        >>> logits.shape, A.shape, A[1, :, 2].tolist()
        (torch.Size([2, 2]), torch.Size([2, 3, 3]), [0.0, 0.0, 0.0])
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embedding_size: int = 100,
        hidden_size: int = 64,
        attention_size: int = 64,
        hops: int = 4,
        mlp_size: int = 128,
        dropout: float = 0.3,
        backend: str = "auto",
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=0)
        self.rnn = recurrent_layer(
            "lstm", embedding_size, hidden_size, bidirectional=True, backend=backend
        )
        self.attention = StructuredSelfAttention(2 * hidden_size, attention_size, hops)
        self.dropout = nn.Dropout(dropout)
        self.hidden_layer = nn.Linear(hops * 2 * hidden_size, mlp_size)
        self.output = nn.Linear(mlp_size, num_classes)

    @classmethod
    def from_config(cls, cfg: SelfAttentiveConfig, vocab_size: int, num_classes: int):
        return cls(
            vocab_size,
            num_classes,
            cfg.embedding_size,
            cfg.hidden_size,
            cfg.attention_size,
            cfg.hops,
            cfg.mlp_size,
            cfg.dropout,
            cfg.backend,
        )

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x = self.dropout(self.embedding(tokens))  # (B, T, E)
        full = lengths is None or bool((lengths == tokens.shape[1]).all())
        # every row full: no lengths, so backend="auto" takes oneDNN's fused LSTM
        H, _ = self.rnn(x) if full else self.rnn(x, lengths=lengths)  # (B, T, 2u)
        mask = None if full else lengths_to_mask(lengths, tokens.shape[1])  # (B, T)
        M, A = self.attention(H, mask)  # (B, r, 2u), (B, r, T)
        hidden = torch.relu(self.hidden_layer(M.flatten(1)))  # (B, mlp)
        return self.output(self.dropout(hidden)), A  # (B, C)


class KeywordClassifier(nn.Module):
    """Embedding → seqlab LSTM → a class distribution's logits at every step (module doc).

    Inputs: ``tokens`` (B, T) int64 ids (0 = padding), ``lengths`` (B,) or None.
    Outputs: logits (B, T, C); ``softmax(-1)`` gives ``p_t(class)``.

    Example::

        >>> model = KeywordClassifier(vocab_size=12, num_classes=4, embedding_size=3,
        ...                           hidden_size=5)
        >>> model(torch.tensor([[4, 5, 6, 7]])).softmax(-1).shape
        torch.Size([1, 4, 4])
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embedding_size: int = 16,
        hidden_size: int = 24,
        backend: str = "auto",
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=0)
        self.rnn = recurrent_layer("lstm", embedding_size, hidden_size, backend=backend)
        self.readout = nn.Linear(hidden_size, num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> Tensor:
        x = self.embedding(tokens)  # (B, T, E)
        h, _ = self.rnn(x) if lengths is None else self.rnn(x, lengths=lengths)  # (B, T, H)
        return self.readout(h)  # (B, T, C)
