"""Sampling from an autoregressive model, one token at a time.

    p_i ∝ exp(logit_i / τ)     τ = temperature: τ < 1 sharpens, τ > 1 flattens, τ = 0 is argmax

With ``top_k = k`` only the ``k`` most likely tokens keep their probability (renormalised). The
model is a step function of the decoding step protocol (:mod:`seqlab.models.protocols`),
``step(tokens (N,), state) -> (logits (N, V), state, attention)``, the same one greedy and beam
search drive.
"""

import math
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from ..errors import InputError

# Below this a temperature divides logits into infinities (float32's smallest normal is 1.2e-38,
# so logits / 1e-30 overflow for any logit above 3e8): treat it as greedy.
_SMALLEST_TEMPERATURE = 1e-6


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """logits (B, V) -> token ids (B,): argmax when ``temperature`` is 0 (or below 1e-6, where
    dividing by it would overflow)."""
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature):
        raise InputError(f"temperature={temperature!r}: expected a finite number >= 0")
    if temperature < 0:
        raise InputError(f"temperature={temperature}: expected a number >= 0 (0 = greedy)")
    if top_k < 0:
        raise InputError(f"top_k={top_k}: expected an integer >= 0 (0 = no limit)")
    if temperature < _SMALLEST_TEMPERATURE:
        return logits.argmax(dim=-1)
    scores = logits.float() / temperature
    if 0 < top_k < scores.shape[-1]:
        kth = scores.topk(top_k, dim=-1).values[..., -1:]  # (B, 1)
        scores = scores.masked_fill(scores < kth, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def sample_stream(
    step: Callable,
    prime: Tensor,
    length: int,
    temperature: float = 1.0,
    top_k: int = 0,
    generator: torch.Generator | None = None,
) -> Iterator[int]:
    """Feed ``prime`` (T0,) ids through ``step`` one at a time, then yield ``length`` sampled
    token ids, each as soon as it is drawn (a caller can print it at once)."""
    if prime.dim() != 1 or prime.numel() == 0:
        raise InputError("the prime is empty; give at least one token to start from")
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise InputError(f"length={length!r}: expected an integer >= 0")
    state = None
    for token in prime:
        logits, state, _ = step(token.reshape(1), state)  # (1, V)
    for i in range(length):
        token = sample_next(logits, temperature, top_k, generator)  # (1,)
        yield int(token)
        if i + 1 < length:  # the last draw needs no step after it
            logits, state, _ = step(token, state)


def generate(
    step: Callable,
    prime: Tensor,
    length: int,
    temperature: float = 1.0,
    top_k: int = 0,
    generator: torch.Generator | None = None,
) -> list[int]:
    """The ``length`` token ids :func:`sample_stream` yields, as a list."""
    return list(sample_stream(step, prime, length, temperature, top_k, generator))
