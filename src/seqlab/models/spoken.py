"""A spoken-word classifier: MFCC frames -> a small LSTM -> a class read out at every frame.

x̂_t = (x_t − μ) / σ          (B, T, I)   MFCCs normalised by the training set's statistics
z_t = LSTM(x̂_t, z_{t-1})     (B, T, H)
o_t = V z_t + b              (B, T, C)   the class logits of frame t
ŷ = argmax_c (1/T) Σ_t log softmax(o_t)_c    the utterance's class: frames pooled
"""

import torch
from torch import Tensor, nn

from .tagger import SequenceTagger


class FrameClassifier(nn.Module):
    """An LSTM of ``hidden_size`` units with a linear read-out at every frame.

    ``mean`` and ``std`` (I,) are buffers: set them from the training features with
    :meth:`fit_normaliser`, and they travel with the state dict.

    Example::

        >>> model = FrameClassifier(13, hidden_size=3, classes=2)
        >>> logits = model(torch.randn(8, 100, 13))   # (B, T, C)
        >>> FrameClassifier.pooled(logits).shape
        torch.Size([8, 2])
    """

    def __init__(self, input_size: int, hidden_size: int, classes: int, backend: str = "auto"):
        super().__init__()
        self.register_buffer("mean", torch.zeros(input_size))
        self.register_buffer("std", torch.ones(input_size))
        self.tagger = SequenceTagger("lstm", input_size, hidden_size, classes, backend=backend)

    @property
    def lstm(self) -> nn.Module:
        return self.tagger.rnn

    @torch.no_grad()
    def fit_normaliser(self, x: Tensor) -> None:
        """μ and σ per feature over every frame of x (B, T, I)."""
        self.mean.copy_(x.mean((0, 1)))
        self.std.copy_(x.std((0, 1)).clamp_min(1e-6))

    def normalise(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std

    def forward(self, x: Tensor) -> Tensor:
        """Frame logits (B, T, C) of MFCC frames x (B, T, I)."""
        return self.tagger(self.normalise(x))[0]

    @staticmethod
    def pooled(logits: Tensor) -> Tensor:
        """The utterance's class scores (B, C): frame log-probabilities averaged over time."""
        return logits.log_softmax(-1).mean(1)
