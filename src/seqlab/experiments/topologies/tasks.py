"""The Trainer task that trains any problem of the ``topologies`` experiment, and the test
that scores a trained network on its held-out test set."""

from collections import Counter

import torch
from torch import Tensor, nn

from ...data.synthetic import TEST, VALID, generator
from ...train import Context
from .problems import Problem


def _rows(batch, ctx: Context) -> tuple[Tensor, ...]:
    """This rank's rows of a batch-first batch."""
    return tuple(t[ctx.rank :: ctx.world] for t in batch)


def score(problem: Problem, model: nn.Module, batch) -> dict[str, tuple[float, float]]:
    """Loss, exact-match accuracy and per-unit accuracy as ``name -> (sum, count)``."""
    n = len(batch[0])
    pred = problem.predict(model, batch)
    exact, units_right, units = problem.judge(pred, batch)
    return {
        "loss": (float(problem.loss(model, batch)) * n, n),
        "accuracy": (float(exact.sum()), n),
        "unit_accuracy": (float(units_right), units),
    }


class TopologyTask:
    """The Trainer's task for one problem: batch ``step`` is drawn from ``(seed, step)``, a
    fixed validation set from ``(seed, VALID)``."""

    items = "examples"

    def __init__(self, problem: Problem, batch_size: int, valid_size: int):
        self.problem, self.batch_size = problem, batch_size
        self.valid = problem.batch(valid_size, generator(problem.seed, VALID), "valid")

    def train_batch(self, step: int, ctx: Context):
        batch = self.problem.batch(self.batch_size, generator(self.problem.seed, step), "train")
        return _rows(batch, ctx)

    def train_step(self, model, batch, carry):
        return self.problem.loss(model, batch), None, len(batch[0])

    def evaluate(self, model, ctx: Context):
        batch = tuple(t.to(ctx.device) for t in _rows(self.valid, ctx))
        return score(self.problem, model, batch)


def seen_in_training(problem: Problem, steps: int, batch_size: int, test_batch) -> Tensor:
    """(B,) bool: whether each test example's input also occurs in one of the ``steps``
    training batches (replayed from their ``(seed, step)`` streams, as :class:`TopologyTask`
    draws them)."""
    wanted = problem.inputs(test_batch)
    pending, seen = set(wanted), set()
    for step in range(steps):
        if not pending:
            break
        batch = problem.batch(batch_size, generator(problem.seed, step), "train")
        found = pending.intersection(problem.inputs(batch))
        seen |= found
        pending -= found
    return torch.tensor([key in seen for key in wanted], dtype=torch.bool)


@torch.no_grad()
def test(problem: Problem, model: nn.Module, size: int, device, steps: int, batch_size: int):
    """Scores on the held-out test set from ``(seed, TEST)``: exact and per-unit accuracy, the
    best constant answer's exact accuracy (``chance``), the share of test inputs that occur in
    the ``steps`` training batches of ``batch_size`` and the exact accuracy on the others
    (None if there are none); with the test batch and the predictions, on the CPU."""
    batch = problem.batch(size, generator(problem.seed, TEST), "test")
    model.eval()
    on_device = tuple(t.to(device) for t in batch)
    pred = problem.predict(model, on_device)
    exact, units_right, units = problem.judge(pred, on_device)
    exact = exact.cpu().float()  # (B,)
    unseen = ~seen_in_training(problem, steps, batch_size, batch)
    counts = Counter(problem.targets(batch))
    scores = {
        "loss": float(problem.loss(model, on_device)),
        "accuracy": float(exact.mean()),
        "unit_accuracy": units_right / units,
        "test_size": len(exact),
        "chance": max(counts.values()) / len(exact),
        "seen_in_training": 1 - float(unseen.float().mean()),
        "unseen_accuracy": float(exact[unseen].mean()) if unseen.any() else None,
    }
    return {"scores": scores, "batch": batch, "pred": pred.cpu()}
