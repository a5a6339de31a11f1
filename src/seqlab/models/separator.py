"""A mask-estimating separator: an LSTM over STFT frames predicts which part is the voice.

    X = STFT(x)                         (B, F, T) complex, Hann window, F = n_fft/2 + 1
    u_t = (log(|X_t| + ε) − μ) / σ      (B, T, F) normalised log magnitudes
    z_t = BiLSTM(u_t)                   (B, T, D·H) seqlab LSTM, L layers
    M_t = σ(V z_t + b)                  (B, T, F) the voice's mask, in (0, 1)
    Ŝ = M ⊙ |X| · e^{i∠X}               the estimate keeps the mixture's phase
    ŝ = ISTFT(Ŝ)                        (B, N)

Trained with the magnitude loss ``mean(|M ⊙ |X| − |S||)`` against the voice's own spectrum
(signal approximation: the mask is judged by the spectrum it produces, not by a target mask).
"""

import torch
from torch import Tensor, nn

from .layers import recurrent_layer

EPS = 1e-4


class Separator(nn.Module):
    """Args:
        n_fft, hop: the STFT's frame and hop in samples.
        hidden_size: ``H`` per direction; num_layers: ``L``; bidirectional: ``D`` = 2 if True.

    Inputs: mixtures ``x`` (B, N). :meth:`forward` returns the mask (B, T, F);
    :meth:`separate` the voice's waveform (B, N).

    Example::

        >>> sep = Separator(n_fft=256, hop=64, hidden_size=32)
        >>> sep.separate(torch.randn(2, 8000)).shape
        torch.Size([2, 8000])
    """

    def __init__(
        self,
        n_fft: int = 256,
        hop: int = 64,
        hidden_size: int = 128,
        num_layers: int = 2,
        bidirectional: bool = True,
        backend: str = "auto",
    ):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        bins = n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("mean", torch.zeros(bins))
        self.register_buffer("std", torch.ones(bins))
        self.rnn = recurrent_layer("lstm", bins, hidden_size, num_layers, backend=backend,
                                   bidirectional=bidirectional)  # fmt: skip
        self.readout = nn.Linear(hidden_size * (2 if bidirectional else 1), bins)

    def stft(self, x: Tensor) -> Tensor:
        """(B, N) -> (B, F, T) complex."""
        return torch.stft(x, self.n_fft, self.hop, window=self.window, return_complex=True)

    def istft(self, spec: Tensor, length: int) -> Tensor:
        """(B, F, T) complex -> (B, length)."""
        return torch.istft(spec, self.n_fft, self.hop, window=self.window, length=length)

    def features(self, spec: Tensor) -> Tensor:
        """Normalised log magnitudes (B, T, F) of a spectrum (B, F, T)."""
        return ((spec.abs() + EPS).log().transpose(1, 2) - self.mean) / self.std

    @torch.no_grad()
    def fit_normaliser(self, x: Tensor) -> None:
        """μ and σ per frequency over every frame of the mixtures x (B, N)."""
        logs = (self.stft(x).abs() + EPS).log().transpose(1, 2)  # (B, T, F)
        self.mean.copy_(logs.mean((0, 1)))
        self.std.copy_(logs.std((0, 1)).clamp_min(1e-3))

    def mask(self, spec: Tensor) -> Tensor:
        """The voice's mask (B, T, F) for a mixture's spectrum (B, F, T)."""
        z, _ = self.rnn(self.features(spec))  # (B, T, D·H)
        return torch.sigmoid(self.readout(z))

    def forward(self, x: Tensor) -> Tensor:
        return self.mask(self.stft(x))

    def separate(self, x: Tensor) -> Tensor:
        """The voice estimate (B, N): the mask on the magnitude, the mixture's phase kept."""
        spec = self.stft(x)
        return self.istft(spec * self.mask(spec).transpose(1, 2), x.shape[-1])
