"""Generated sequence tasks: every batch is a pure function of a seed and an index.

Each generator returns ``(x, y, mask)`` batch-first:

- ``x`` (B, T, I) float inputs,
- ``y`` (B, T, O) float targets (or (B, T) int64 class ids where a task says so),
- ``mask`` (B, T) bool: the frames that are scored (e.g. not the first ``k`` frames of a delay,
  whose target lies before the sequence began).

``generator(seed, index)`` gives the random stream for training step ``index``; validation sets
use ``index = VALID`` so they never overlap a training stream of the same seed.
"""

import torch
from torch import Tensor

from ..errors import InputError

VALID = -1  # the index of a seed's validation stream
TEST = -2

Batch = tuple[Tensor, Tensor, Tensor]


def generator(seed: int, index: int) -> torch.Generator:
    """A random stream for (seed, index): distinct pairs give unrelated streams."""
    # A 63-bit mix of the pair: consecutive steps of a seed are far apart in seed space.
    mixed = (seed * 0x9E3779B97F4A7C15 + (index + 3) * 0xBF58476D1CE4E5B9) % (1 << 63)
    return torch.Generator().manual_seed(mixed)


def binary(batch: int, length: int, gen: torch.Generator, low: float = 0.0) -> Tensor:
    """(B, T, 1) of {low, 1} with equal probability."""
    bits = torch.randint(0, 2, (batch, length, 1), generator=gen).float()
    return bits * (1.0 - low) + low


def delay(batch: int, length: int, lag: int, gen: torch.Generator, low: float = -1.0) -> Batch:
    """``y_t = x_{t-lag}`` on random binary inputs in {low, 1}; frames t < lag are unscored.

    Targets of unscored frames are 0 (a model still sees them as inputs to later frames).
    """
    if lag < 0 or lag >= length:
        raise InputError(f"delay lag={lag} needs 0 <= lag < sequence length {length}")
    x = binary(batch, length, gen, low)
    y = torch.zeros_like(x)
    y[:, lag:] = x[:, : length - lag]
    mask = torch.zeros(batch, length, dtype=torch.bool)
    mask[:, lag:] = True
    return x, y, mask


def product(batch: int, length: int, gen: torch.Generator) -> Batch:
    """``y_t = x_{t-1} · x_t`` on random bits {0, 1} (logical AND of the last two inputs);
    the first frame has no ``x_{t-1}`` and is unscored."""
    if length < 2:
        raise InputError(f"the product task needs sequences of length >= 2, got {length}")
    x = binary(batch, length, gen)
    y = torch.zeros_like(x)
    y[:, 1:] = x[:, 1:] * x[:, :-1]
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[:, 0] = False
    return x, y, mask
