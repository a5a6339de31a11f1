"""The Trainer task for generated per-frame targets (delay, product, ...): a loss over the scored
frames and the metrics that say whether a task is solved.

Losses (on a model returning (B, T, O) outputs):

- ``"mse"``: mean squared error; metrics ``nmse`` (squared error over the validation targets'
  variance: 1 for a model that outputs the mean, 0 for a perfect one) and ``sign_accuracy``.
- ``"bce"``: binary cross-entropy on logits (the output unit is ``σ(o_t)``); metrics
  ``accuracy`` (frames) and ``sequence_accuracy`` (sequences with every frame right).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.synthetic import VALID, Batch, generator
from ..train import Context

LOSSES = ("mse", "bce")


def frame_loss(kind: str, out: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    """Mean loss over the scored frames; out, y (B, T, O), mask (B, T)."""
    if kind == "mse":
        per_frame = (out - y).pow(2).mean(-1)
    else:
        per_frame = F.binary_cross_entropy_with_logits(out, y, reduction="none").mean(-1)
    return per_frame[mask].mean()


class TaggingTask:
    """Batches ``make(batch_size, gen)`` drawn from the stream of ``(seed, step)``; a fixed
    validation set of ``valid_size`` sequences from ``(seed, VALID)``."""

    items = "sequences"

    def __init__(
        self,
        make: Callable[[int, torch.Generator], Batch],
        loss: str,
        batch_size: int,
        seed: int,
        valid_size: int = 512,
    ):
        if loss not in LOSSES:
            raise ValueError(f"loss={loss!r}: expected one of {LOSSES}")
        self.make, self.loss, self.batch_size, self.seed = make, loss, batch_size, seed
        self.valid = make(valid_size, generator(seed, VALID))
        self.target_var = self.valid[1][self.valid[2]].var().item()  # over the scored frames

    def train_batch(self, step: int, ctx: Context) -> Batch:
        x, y, mask = self.make(self.batch_size, generator(self.seed, step))
        share = slice(ctx.rank, None, ctx.world)  # each rank its rows of the one batch
        return x[share], y[share], mask[share]

    def train_step(self, model, batch: Batch, carry):
        x, y, mask = batch
        out, _ = model(x)
        return frame_loss(self.loss, out, y, mask), None, x.shape[0]

    def evaluate(self, model, ctx: Context) -> dict[str, tuple[float, float]]:
        x, y, mask = (t[ctx.rank :: ctx.world].to(ctx.device) for t in self.valid)
        out, _ = model(x)
        return score(self.loss, out, y, mask, self.target_var)


def score(kind: str, out: Tensor, y: Tensor, mask: Tensor, target_var: float = 1.0) -> dict:
    """Validation metrics as ``name -> (sum, count)``."""
    frames = int(mask.sum())
    if kind == "mse":
        sq = (out - y).pow(2).mean(-1)[mask]
        right = ((out > 0) == (y > 0)).all(-1)[mask]
        return {
            "loss": (float(sq.sum()), frames),
            "nmse": (float(sq.sum()) / target_var, frames),
            "sign_accuracy": (float(right.sum()), frames),
        }
    loss = F.binary_cross_entropy_with_logits(out, y, reduction="none").mean(-1)[mask]
    right = ((out > 0) == (y > 0.5)).all(-1) | ~mask  # (B, T); unscored frames count as right
    return {
        "loss": (float(loss.sum()), frames),
        "accuracy": (float(right[mask].sum()), frames),
        "sequence_accuracy": (float(right.all(1).sum()), y.shape[0]),
    }
