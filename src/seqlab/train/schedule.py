"""Learning-rate schedules as a function of training progress.

Progress is the fraction of the run done: ``step / max_steps``, or ``elapsed / time_budget``
when a run is limited by wall time, whichever is further along. A time-limited run therefore
still anneals to its final learning rate when its time is up, on a fast machine or a slow one.
"""

import math

from ..errors import ConfigError

SCHEDULES = ("constant", "cosine", "linear", "noam")


def lr_factor(kind: str, progress: float, step: int, warmup_steps: int, min_ratio: float) -> float:
    """Multiplier of the base learning rate: linear warm-up over ``warmup_steps``, then
    ``constant``, ``cosine`` or ``linear`` decay from 1 to ``min_ratio`` as progress goes 0 -> 1.

    ``noam`` is the Transformer paper's schedule (Vaswani et al. 2017, eq. 3),
    ``lr = d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)``, written with the base learning
    rate as its peak: linear warm-up to 1 at ``warmup_steps``, then ``√(warmup / step)``
    (the paper's peak is ``(d_model · warmup)^-0.5``; ``min_ratio`` and progress play no part)."""
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    p = min(max(progress, 0.0), 1.0)
    if kind == "constant":
        decay = 1.0
    elif kind == "cosine":
        decay = min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p))
    elif kind == "linear":
        decay = 1 - (1 - min_ratio) * p
    elif kind == "noam":
        decay = math.sqrt(warmup_steps / (step + 1)) if step + 1 > warmup_steps > 0 else 1.0
    else:
        raise ConfigError(f"schedule={kind!r}: expected one of {SCHEDULES}")
    return warm * decay
