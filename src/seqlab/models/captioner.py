r"""Show, Attend and Tell (Xu et al. 2015) at the size of digit scenes: a small CNN trained from
scratch gives a grid of annotation vectors, an LSTM decoder attends over them word by word.

Encoder, over a grayscale canvas x (B, 1, P, P)::

    conv3×3(1 → C) BN ReLU pool2 · conv3×3(C → 2C) BN ReLU pool2 · conv3×3(2C → 4C) BN ReLU pool2
    a_i = ReLU(W_a · feature_i) + p_i  (B, L, D)   L = (P/8)² positions, 1×1 conv to D

Each position of the grid sees 22 × 22 pixels (its receptive field), about one digit, so a
word about a digit has to look where the digit is. The convolutions are the same at every
position, so a learnt vector p_i per position says where it is: without it the decoder cannot
tell the top left digit from the bottom right one, and captions that read the digits in order
("three digits : four one nine") or place them ("above") cannot be learnt (in short trials
the nouns stayed near chance).

Decoder step t (``y_0`` = BOS; teacher forcing feeds the reference's ``y_{t−1}`` in training,
:mod:`seqlab.decode` feeds the model's own choice)::

    h_0 = tanh(W_h ā),  c_0 = tanh(W_c ā),   ā = (1/L) Σ_i a_i       the mean annotation
    e_ti = vᵀ tanh(W h_{t−1} + U a_i + b),  α_t = softmax(e_t)      additive attention
    β_t  = σ(w_β · h_{t−1} + b_β)                                   the gate, a scalar
    ẑ_t  = β_t Σ_i α_ti a_i                                         (context="attention")
    ẑ_t  = β_t ā                                                    (context="mean", baseline)
    h_t, c_t = LSTM([E y_{t−1} ; ẑ_t], (h_{t−1}, c_t−1))             seqlab LSTMCell
    p(y_t) ∝ exp(L_o(E y_{t−1} + L_h h_t + L_z ẑ_t))                the deep output

and the doubly stochastic regulariser over a caption's steps, :func:`doubly_stochastic`,
``λ Σ_i (1 − Σ_t α_ti)²``, which asks every position to receive, summed over the caption,
about one word's attention.

Gradients: the attention core (energies, softmax, context, and the gradient the regulariser
sends into α) is :class:`seqlab.attention.AdditiveAttention`'s hand-derived backward; the LSTM
cell is the engine's (hand-derived with ``backend="seqlab"``; ``"auto"`` hands the plain cell
to torch's kernel on the CPU). The CNN, the β gate, the initial states, the deep output and
the regulariser's own sum ride on autograd.
"""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..attention import AdditiveAttention
from ..config import check
from ..data.vocab import PAD_ID
from ..errors import InputError, ShapeError
from .layers import BACKENDS, recurrent_cell

CONTEXTS = ("attention", "mean")


def _conv(inputs: int, outputs: int) -> list[nn.Module]:
    """3×3 convolution, batch norm, ReLU. Without the batch norm the CNN learnt from the
    captions alone far more slowly (nouns near chance after 400 steps; 80% right with it)."""
    return [nn.Conv2d(inputs, outputs, 3, padding=1), nn.BatchNorm2d(outputs), nn.ReLU()]


@dataclass(frozen=True)
class CaptionerConfig:
    """The sizes of a :class:`Captioner` (the ``model`` section of ``seqlab run captions``)."""

    channels: int = 8  # C: the CNN's widths are C, 2C, 4C
    annotation_size: int = 128  # D
    embedding_size: int = 64  # E
    hidden_size: int = 128  # H
    attention_size: int = 64  # A
    dropout: float = 0.0
    backend: str = "auto"  # the LSTM cell's: auto | seqlab | torch | torch.nn

    def __post_init__(self):
        for name in ("channels", "annotation_size", "embedding_size", "hidden_size",
                     "attention_size"):  # fmt: skip
            value = getattr(self, name)
            check(value >= 1, f"model.{name}", value, "an integer >= 1")
        check(0 <= self.dropout < 1, "model.dropout", self.dropout, "in [0, 1)")
        check(self.backend in BACKENDS, "model.backend", self.backend, f"one of {BACKENDS}")


def doubly_stochastic(alignment: Tensor, steps: Tensor) -> Tensor:
    """``Σ_i (1 − Σ_t α_ti)²`` per caption: alignment (B, T, L), steps (B, T) bool (the
    caption's real steps, EOS included) -> (B,)."""
    attended = (alignment * steps.unsqueeze(-1)).sum(1)  # (B, L): Σ_t α_ti
    return (1.0 - attended).pow(2).sum(-1)


class Captioner(nn.Module):
    """The CNN encoder and the attention LSTM decoder (module docstring for the equations);
    implements the decoding step protocol (:class:`seqlab.models.StepModel`).

    Args:
        vocab_size: ``V`` (id 0 padding, 1 BOS, 2 EOS: :mod:`seqlab.data.vocab`).
        image_size: ``P``, the canvas side in pixels (a multiple of 8).
        context: ``"attention"`` (soft attention) or ``"mean"`` (the fixed mean annotation
            ā, the baseline without attention; same sizes).
        channels, annotation_size, embedding_size, hidden_size, attention_size, dropout,
        backend: as in :class:`CaptionerConfig`.

    Shapes: ``B`` batch, ``T`` caption steps, ``L`` = (P/8)² grid positions.

    - ``encode(images (B, P, P))`` -> the decoder's first state (a dict of tensors with
      leading dim B).
    - ``step(tokens (N,), state)`` -> logits (N, V), the next state, α (N, L) (None with
      ``context="mean"``).
    - ``forward(images (B, P, P), previous (B, T))`` -> logits (B, T, V) and α (B, T, L) (None
      with ``context="mean"``); ``previous`` is BOS then the caption shifted right.

    Example::

        >>> model = Captioner(vocab_size=22, image_size=56)
        >>> images = torch.rand(2, 56, 56)
        >>> logits, alignment = model(images, torch.randint(1, 22, (2, 5)))
        >>> logits.shape, alignment.shape
        (torch.Size([2, 5, 22]), torch.Size([2, 5, 49]))
        >>> hyps = seqlab.decode.greedy(model.step, model.encode(images), 2, 1, 2, 8)
    """

    def __init__(
        self,
        vocab_size: int,
        image_size: int = 56,
        context: str = "attention",
        channels: int = 8,
        annotation_size: int = 128,
        embedding_size: int = 64,
        hidden_size: int = 128,
        attention_size: int = 64,
        dropout: float = 0.0,
        backend: str = "auto",
    ):
        super().__init__()
        if context not in CONTEXTS:
            raise InputError(f"context={context!r}: expected one of {', '.join(CONTEXTS)}")
        if image_size < 8 or image_size % 8:
            raise InputError(f"image_size={image_size}: expected a multiple of 8 (three pools)")
        self.context, self.image_size = context, image_size
        self.grid = image_size // 8
        C, D = channels, annotation_size
        self.cnn = nn.Sequential(
            *_conv(1, C), nn.MaxPool2d(2),  # (B, C, P/2, P/2)
            *_conv(C, 2 * C), nn.MaxPool2d(2),  # (B, 2C, P/4, P/4)
            *_conv(2 * C, 4 * C), nn.MaxPool2d(2),  # (B, 4C, P/8, P/8)
            nn.Conv2d(4 * C, D, 1), nn.ReLU(),  # (B, D, P/8, P/8)
        )  # fmt: skip
        self.position = nn.Parameter(0.1 * torch.randn(self.grid * self.grid, D))  # p_i
        # channels-last activations: oneDNN's convolutions run 1.3-1.5× faster so here
        self.cnn.to(memory_format=torch.channels_last)
        self.init_h = nn.Linear(D, hidden_size)  # W_h
        self.init_c = nn.Linear(D, hidden_size)  # W_c
        self.attention = AdditiveAttention(hidden_size, D, attention_size)
        self.gate = nn.Linear(hidden_size, 1)  # w_β, b_β
        self.embed = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD_ID)  # E
        self.cell = recurrent_cell("lstm", embedding_size + D, hidden_size, backend=backend)
        self.out_h = nn.Linear(hidden_size, embedding_size)  # L_h
        self.out_z = nn.Linear(D, embedding_size)  # L_z
        self.out = nn.Linear(embedding_size, vocab_size)  # L_o
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def from_config(cls, cfg: CaptionerConfig, vocab_size: int, image_size: int, context: str):
        return cls(
            vocab_size,
            image_size,
            context,
            channels=cfg.channels,
            annotation_size=cfg.annotation_size,
            embedding_size=cfg.embedding_size,
            hidden_size=cfg.hidden_size,
            attention_size=cfg.attention_size,
            dropout=cfg.dropout,
            backend=cfg.backend,
        )

    # -- encoder --------------------------------------------------------------------------
    def annotations(self, images: Tensor) -> Tensor:
        """images (B, P, P) or (B, 1, P, P) in [0, 1] -> a (B, L, D), row-major positions."""
        if images.dim() == 3:
            images = images.unsqueeze(1)
        P = self.image_size
        if images.dim() != 4 or tuple(images.shape[1:]) != (1, P, P):
            raise ShapeError(
                f"images have shape {tuple(images.shape)}; expected (B, {P}, {P}) or "
                f"(B, 1, {P}, {P}) grayscale canvases"
            )
        features = self.cnn(images.contiguous(memory_format=torch.channels_last))  # (B, D, g, g)
        return features.flatten(2).transpose(1, 2) + self.position  # (B, L, D)

    def encode(self, images: Tensor) -> dict[str, Tensor]:
        """images -> the first state: ``h``, ``c`` (B, H) from the mean annotation, ``keys``
        (B, L, D), ``mean`` (B, D) and, with attention, ``projected`` (B, L, A)."""
        keys = self.annotations(images)  # (B, L, D)
        mean = keys.mean(1)  # ā (B, D)
        state = {
            "h": torch.tanh(self.init_h(mean)),  # (B, H)
            "c": torch.tanh(self.init_c(mean)),
            "keys": keys,
            "mean": mean,
        }
        if self.context == "attention":
            state["projected"] = self.attention.project_keys(keys)  # U a_i + b (B, L, A)
        return state

    # -- one decoder step -------------------------------------------------------------------
    def _advance(self, embedded: Tensor, state: dict) -> tuple[Tensor, dict, Tensor | None]:
        """From E y_{t−1} (N, E): the deep output's logits (N, V), the next state, α_t."""
        h_prev = state["h"]
        if self.context == "attention":
            # e_ti = vᵀ tanh(W h_{t−1} + U a_i + b), α_t = softmax(e_t), Σ_i α_ti a_i
            read, weights = self.attention(
                h_prev, state["keys"], projected_keys=state["projected"]
            )  # (N, D), (N, L)
        else:
            read, weights = state["mean"], None  # ā
        beta = torch.sigmoid(self.gate(h_prev))  # β_t (N, 1)
        z = beta * read  # ẑ_t (N, D)
        h, c = self.cell(torch.cat([embedded, z], dim=-1), (h_prev, state["c"]))
        # p(y_t) ∝ exp(L_o(E y_{t−1} + L_h h_t + L_z ẑ_t))
        logits = self.out(self.dropout(embedded + self.out_h(h) + self.out_z(z)))  # (N, V)
        return logits, {**state, "h": h, "c": c}, weights

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict, Tensor | None]:
        """The step function of :mod:`seqlab.decode`: y_{t−1} (N,) -> logits (N, V), the next
        state and α_t (N, L) (None with ``context="mean"``)."""
        return self._advance(self.embed(tokens), state)

    # -- teacher forcing ----------------------------------------------------------------------
    def forward(self, images: Tensor, previous: Tensor) -> tuple[Tensor, Tensor | None]:
        """images (B, P, P), previous (B, T) = [BOS, y_1 … y_{T−1}] -> logits (B, T, V) and
        α (B, T, L) (None with ``context="mean"``)."""
        state = self.encode(images)
        embedded = self.embed(previous)  # (B, T, E)
        logits, alignment = [], []
        for t in range(previous.shape[1]):
            step_logits, state, weights = self._advance(embedded[:, t], state)
            logits.append(step_logits)
            alignment.append(weights)
        stacked = torch.stack(logits, dim=1)  # (B, T, V)
        if self.context != "attention":
            return stacked, None
        return stacked, torch.stack(alignment, dim=1)  # (B, T, L)


def describe(cfg: CaptionerConfig, context: str) -> str:
    """A sentence for reports: the sizes as configured."""
    C = cfg.channels
    read = (
        f"soft additive attention {cfg.attention_size}"
        if context == "attention"
        else "the fixed mean annotation (no attention)"
    )
    return (
        f"CNN {C}-{2 * C}-{4 * C} → {cfg.annotation_size}-d annotations, LSTM {cfg.hidden_size} "
        f"with {read}, β gate, embeddings {cfg.embedding_size}, deep output"
        + (f", dropout {cfg.dropout:g}" if cfg.dropout else "")
        + f" (LSTM backend {cfg.backend})"
    )
