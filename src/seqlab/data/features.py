"""Log-mel filterbank energies and MFCCs in torch, the recipe of ``python_speech_features``.

For samples ``x`` at ``rate`` Hz (all steps as in python_speech_features 0.6, which the tests
compare against on the same audio):

    x'_n = x_n − 0.97·x_{n−1}                       pre-emphasis (x'_0 = x_0)
    frames of ``win`` samples every ``step`` samples (the last one zero-padded), rectangular
    P_t(k) = |rfft(frame_t, n_fft)_k|² / n_fft      power spectrum                (T, n_fft/2+1)
    E_t = Σ_k P_t(k)                                frame energy
    M_t(m) = Σ_k P_t(k)·H_m(k)                      triangular mel filters H_m    (T, n_mels)
    logmel_t = log M_t                              (zeros become float eps first)
    c_t = DCT-II_ortho(logmel_t)[:n_ceps]           cepstrum                      (T, n_ceps)
    mfcc_t(j) = c_t(j)·(1 + L/2·sin(π j / L)), L = 22; then mfcc_t(0) = log E_t

The mel scale is ``mel(f) = 2595·log10(1 + f/700)``; filter m rises from bin b_m to b_{m+1}
and falls to b_{m+2}, with b the FFT bins of n_mels + 2 points equally spaced in mel between
0 Hz and rate/2 (``⌊(n_fft+1)·f/rate⌋``).
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import check

EPS = torch.finfo(torch.float64).eps  # numpy's float eps, which python_speech_features uses


@dataclass(frozen=True)
class FeatureConfig:
    """Frame and filterbank settings (the defaults: 25 ms frames every 10 ms at 8 kHz)."""

    rate: int = 8000
    win_s: float = 0.025
    step_s: float = 0.01
    n_fft: int = 256
    n_mels: int = 26
    n_ceps: int = 13
    preemphasis: float = 0.97
    lifter: int = 22

    def __post_init__(self):
        check(self.rate > 0, "rate", self.rate, "a positive sample rate")
        check(0 < self.step_s <= self.win_s, "step_s", self.step_s, "0 < step_s <= win_s")
        check(self.n_fft >= self.win, "n_fft", self.n_fft, f"at least the window ({self.win})")
        check(1 <= self.n_ceps <= self.n_mels, "n_ceps", self.n_ceps, "1 <= n_ceps <= n_mels")

    @property
    def win(self) -> int:
        return _round_half_up(self.win_s * self.rate)

    @property
    def step(self) -> int:
        return _round_half_up(self.step_s * self.rate)


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def frames(x: Tensor, cfg: FeatureConfig) -> Tensor:
    """Pre-emphasised frames (T, win) of the samples x (N,); T = 1 + ⌈(N − win)/step⌉."""
    x = torch.cat([x[:1], x[1:] - cfg.preemphasis * x[:-1]])
    n = x.shape[0]
    count = 1 if n <= cfg.win else 1 + math.ceil((n - cfg.win) / cfg.step)
    x = F.pad(x, (0, (count - 1) * cfg.step + cfg.win - n))
    return x.unfold(0, cfg.win, cfg.step)  # (T, win)


def power_spectrum(x: Tensor, cfg: FeatureConfig) -> Tensor:
    """P_t(k) = |rfft(frame_t)_k|² / n_fft: (T, n_fft/2 + 1)."""
    spectrum = torch.fft.rfft(frames(x, cfg), n=cfg.n_fft)
    return spectrum.abs().pow(2) / cfg.n_fft


def mel_filters(cfg: FeatureConfig, dtype=torch.float32) -> Tensor:
    """The triangular filters H (n_mels, n_fft/2 + 1) of python_speech_features."""

    def mel(f):
        return 2595 * math.log10(1 + f / 700)

    top = mel(cfg.rate / 2)
    points = [top * i / (cfg.n_mels + 1) for i in range(cfg.n_mels + 2)]
    bins = [math.floor((cfg.n_fft + 1) * 700 * (10 ** (m / 2595) - 1) / cfg.rate) for m in points]
    H = torch.zeros(cfg.n_mels, cfg.n_fft // 2 + 1, dtype=torch.float64)
    for m in range(cfg.n_mels):
        low, mid, high = bins[m], bins[m + 1], bins[m + 2]
        for k in range(low, mid):
            H[m, k] = (k - low) / (mid - low)
        for k in range(mid, high):
            H[m, k] = (high - k) / (high - mid)
    return H.to(dtype)


def _dct_matrix(n_in: int, n_out: int, dtype) -> Tensor:
    """Orthonormal DCT-II as a matrix (n_in, n_out): c = v @ D."""
    n = torch.arange(n_in, dtype=torch.float64)[:, None]
    k = torch.arange(n_out, dtype=torch.float64)[None, :]
    D = torch.cos(math.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2 / n_in)
    D[:, 0] /= math.sqrt(2)
    return D.to(dtype)


def log_mel(x: Tensor, cfg: FeatureConfig = FeatureConfig()) -> Tensor:
    """log M_t(m): the log mel filterbank energies (T, n_mels) of samples x (N,)."""
    P = power_spectrum(x, cfg)
    M = P @ mel_filters(cfg, x.dtype).T
    return torch.where(M == 0, EPS, M).log()


def mfcc(x: Tensor, cfg: FeatureConfig = FeatureConfig()) -> Tensor:
    """MFCCs (T, n_ceps) of samples x (N,); coefficient 0 is the log frame energy."""
    P = power_spectrum(x, cfg)
    M = P @ mel_filters(cfg, x.dtype).T
    c = torch.where(M == 0, EPS, M).log() @ _dct_matrix(cfg.n_mels, cfg.n_ceps, x.dtype)
    j = torch.arange(cfg.n_ceps, dtype=x.dtype)
    c = c * (1 + cfg.lifter / 2 * torch.sin(math.pi * j / cfg.lifter))
    energy = P.sum(1)
    c[:, 0] = torch.where(energy == 0, EPS, energy).log()
    return c
