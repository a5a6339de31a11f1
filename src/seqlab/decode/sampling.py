"""Sampling from an autoregressive model, one token at a time.

    p_i ∝ exp(logit_i / τ)     τ = temperature: τ < 1 sharpens, τ > 1 flattens, τ = 0 is argmax

With ``top_k = k`` only the ``k`` most likely tokens keep their probability (renormalised).
"""

from collections.abc import Callable

import torch
from torch import Tensor

from ..errors import InputError


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """logits (B, V) -> token ids (B,): argmax when ``temperature == 0``."""
    if temperature < 0:
        raise InputError(f"temperature={temperature}: expected a number >= 0 (0 = greedy)")
    if top_k < 0:
        raise InputError(f"top_k={top_k}: expected an integer >= 0 (0 = no limit)")
    if temperature == 0:
        return logits.argmax(dim=-1)
    scores = logits.float() / temperature
    if 0 < top_k < scores.shape[-1]:
        kth = scores.topk(top_k, dim=-1).values[..., -1:]  # (B, 1)
        scores = scores.masked_fill(scores < kth, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(
    step: Callable,
    prime: Tensor,
    length: int,
    temperature: float = 1.0,
    top_k: int = 0,
    generator: torch.Generator | None = None,
) -> list[int]:
    """Feed ``prime`` (T0,) ids, then sample ``length`` more tokens one at a time.

    ``step(ids (1, T), state) -> (logits (1, T, V), state)`` is the model: a recurrent model
    runs the prime once and then carries its state, so each new token costs one step.
    """
    if prime.numel() == 0:
        raise InputError("the prime is empty; give at least one token to start from")
    if length < 0:
        raise InputError(f"length={length}: expected an integer >= 0")
    logits, state = step(prime[None, :], None)
    out = []
    for _ in range(length):
        token = sample_next(logits[:, -1], temperature, top_k, generator)  # (1,)
        out.append(int(token))
        logits, state = step(token[:, None], state)
    return out
