"""A training loop that knows nothing of any particular model.

What is model- or data-specific comes from a *task* (:class:`Task`): how to get the batch of a
step, the loss of a batch, and the validation metrics. The Trainer does the rest: the optimiser
(Adam/AdamW/SGD), gradient-norm clipping, the learning-rate schedule, truncated BPTT's carried
state, periodic validation, early stopping, ``metrics.jsonl``, atomic checkpoints that resume to
the same numbers, and DistributedDataParallel when launched by ``torchrun``.

Resuming reproduces an uninterrupted run because everything a step depends on is saved: the
model, optimiser, step (batches are a pure function of the step), training time (the schedule
of a time-limited run), each rank's carried state and random-number generators.
"""

import contextlib
import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ..config import check
from ..errors import CheckpointError, DivergedError, one_line
from . import checkpoint, distributed
from .distributed import Context
from .metrics import MetricsLog
from .schedule import SCHEDULES, lr_factor
from .state import detach, rng_state, set_rng_state, to_device

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
OPTIMIZERS = ("adam", "adamw", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """How to train, whatever the model. A run stops at ``max_steps`` or after ``time_budget``
    seconds (0 = no limit; at least one must be set) or when validation loss has not improved
    for ``patience`` evaluations (0 = never stop early). It stops as *diverged* (a
    :class:`~seqlab.errors.DivergedError`) when a loss is not finite, or when a logged training
    loss exceeds ``divergence_factor`` times the first step's (0 = only on a non-finite loss)."""

    optimizer: str = "adam"  # adam | adamw | sgd
    lr: float = 2e-3
    momentum: float = 0.0  # sgd only
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    clip_norm: float = 1.0
    schedule: str = "cosine"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    max_steps: int = 1000
    time_budget: float = 0.0
    eval_every: int = 200
    patience: int = 0
    checkpoint_every: int = 200
    log_every: int = 10
    divergence_factor: float = 10.0

    def __post_init__(self):
        floats = ("lr", "momentum", "beta1", "beta2", "weight_decay", "clip_norm", "time_budget",
                  "divergence_factor", "min_lr_ratio")  # fmt: skip
        for name in floats:
            value = getattr(self, name)
            check(math.isfinite(value), f"train.{name}", value, "a finite number")
        check(
            self.optimizer in OPTIMIZERS,
            "train.optimizer",
            self.optimizer,
            f"one of {', '.join(OPTIMIZERS)}",
        )
        check(self.lr > 0, "train.lr", self.lr, "a positive number")
        check(0 <= self.momentum < 1, "train.momentum", self.momentum, "in [0, 1)")
        check(
            0 <= self.beta1 < 1 and 0 <= self.beta2 < 1,
            "train.beta1/beta2",
            (self.beta1, self.beta2),
            "numbers in [0, 1)",
        )
        check(self.weight_decay >= 0, "train.weight_decay", self.weight_decay, "a number >= 0")
        check(self.clip_norm >= 0, "train.clip_norm", self.clip_norm, "a number >= 0 (0 = off)")
        check(self.schedule in SCHEDULES, "train.schedule", self.schedule, f"one of {SCHEDULES}")
        check(0 <= self.min_lr_ratio <= 1, "train.min_lr_ratio", self.min_lr_ratio, "in [0, 1]")
        for name in ("warmup_steps", "max_steps", "patience"):
            check(getattr(self, name) >= 0, f"train.{name}", getattr(self, name), "an integer >= 0")
        check(self.time_budget >= 0, "train.time_budget", self.time_budget, "seconds >= 0")
        check(
            self.max_steps > 0 or self.time_budget > 0,
            "train.max_steps",
            self.max_steps,
            "a positive step count, or a positive train.time_budget (seconds)",
        )
        for name in ("eval_every", "checkpoint_every", "log_every"):
            check(getattr(self, name) >= 1, f"train.{name}", getattr(self, name), "an integer >= 1")
        check(
            self.divergence_factor == 0 or self.divergence_factor > 1,
            "train.divergence_factor",
            self.divergence_factor,
            "0 (off) or a number > 1",
        )


def make_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    opt_cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return opt_cls(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)


class Task(Protocol):
    """What the Trainer asks of an experiment."""

    items: str  # what throughput counts, e.g. "chars"

    def train_batch(self, step: int, ctx: Context) -> Any:
        """This rank's batch for ``step`` (on ``ctx.device``); a pure function of ``step``."""

    def train_step(self, model: nn.Module, batch: Any, carry: Any) -> tuple[Tensor, Any, int]:
        """(mean loss to minimise, state to carry to the next step or None, items in batch)."""

    def evaluate(self, model: nn.Module, ctx: Context) -> dict[str, tuple[float, float]]:
        """Validation metrics as ``name -> (sum, count)`` over this rank's share of the data;
        the Trainer adds them over ranks and divides. Must include ``"loss"``."""


@dataclass
class TrainResult:
    step: int = 0
    elapsed: float = 0.0
    train_loss: float = float("nan")
    valid: dict = field(default_factory=dict)
    best_valid_loss: float = float("inf")
    best_step: int = 0
    stop_reason: str = ""


class Trainer:
    """Args:
    model: any module; moved to ``ctx.device`` and wrapped in DDP when ``ctx.world > 1``.
    task: a :class:`Task`.
    cfg: a :class:`TrainConfig`.
    ctx: this process's :class:`~seqlab.train.distributed.Context`.
    run_dir: where rank 0 writes ``metrics.jsonl``, ``checkpoint.pt`` and ``best.pt`` (None:
        nothing is written).
    fingerprint: what a checkpoint must match to be resumed (e.g. the experiment and model
        configuration); a mismatch is a CheckpointError.
    on_event: called on rank 0 with ``(kind, info)``: "start", "train", "eval", "checkpoint",
        "end". The CLI draws progress from these; the library never prints.
    """

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        cfg: TrainConfig,
        ctx: Context | None = None,
        run_dir: Path | None = None,
        fingerprint: dict | None = None,
        on_event: Callable[[str, dict], None] | None = None,
    ):
        self.ctx = ctx or Context()
        self.model = model.to(self.ctx.device)
        self.task, self.cfg, self.fingerprint = task, cfg, fingerprint or {}
        self.run_dir = Path(run_dir) if run_dir is not None and self.ctx.main else None
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl" if self.run_dir else None)
        self._on_event = on_event if self.ctx.main else None
        self.net = (
            DistributedDataParallel(
                self.model, device_ids=[self.ctx.device] if self.ctx.device.type == "cuda" else None
            )
            if self.ctx.distributed
            else self.model
        )
        self.optimizer = make_optimizer(self.model.parameters(), cfg)
        self.step, self.elapsed, self.carry = 0, 0.0, None
        self.best_valid, self.best_step, self.evals_since_best = float("inf"), 0, 0
        self.last_valid: dict = {}
        self.valid_step = -1  # the step last validated
        self.train_loss = float("nan")
        self.first_loss = float("nan")  # the first step's loss (the divergence test's base)
        # this rank's logging window in progress: summed loss, steps, items (kept by checkpoints,
        # so a resumed run logs the same mean as an uninterrupted one)
        self.window = [0.0, 0, 0]
        self._interrupted = False

    # ------------------------------------------------------------------ events and schedule
    def _emit(self, kind: str, **info) -> None:
        if self._on_event is not None:
            self._on_event(kind, info)

    def progress(self) -> float:
        cfg = self.cfg
        by_steps = self.step / cfg.max_steps if cfg.max_steps else 0.0
        by_time = self.elapsed / cfg.time_budget if cfg.time_budget else 0.0
        return max(by_steps, by_time)

    def lr(self) -> float:
        cfg = self.cfg
        factor = lr_factor(
            cfg.schedule, self.progress(), self.step, cfg.warmup_steps, cfg.min_lr_ratio
        )
        return cfg.lr * factor

    def _done(self) -> str:
        if self.cfg.max_steps and self.step >= self.cfg.max_steps:
            return "max_steps"
        if self.cfg.time_budget and self.elapsed >= self.cfg.time_budget:
            return "time_budget"
        if self.cfg.patience and self.evals_since_best >= self.cfg.patience:
            return "early_stopping"
        return ""

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        mine = {
            "carry": to_device(self.carry, "cpu"),
            "rng": rng_state(self.ctx.device),
            "window": self.window,  # this rank's own losses since the last log
        }
        ranks = distributed.gather_objects(mine, self.ctx)
        return {
            "fingerprint": self.fingerprint,
            "world": self.ctx.world,
            "step": self.step,  # also the data position: a batch is a function of the step
            "elapsed": self.elapsed,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            # The schedule is a pure function of (step, elapsed) and the config; kept for readers.
            "schedule": {"kind": self.cfg.schedule, "progress": self.progress(), "lr": self.lr()},
            "best": [self.best_valid, self.best_step, self.evals_since_best],
            "last_valid": self.last_valid,
            "valid_step": self.valid_step,
            "train_loss": [self.train_loss, self.first_loss],
            "ranks": ranks,
        }

    def save_checkpoint(self) -> None:
        state = self.state_dict()  # every rank joins the gather
        if self.run_dir is not None:
            checkpoint.save(state, self.run_dir / CHECKPOINT)
            self._emit("checkpoint", step=self.step, path=str(self.run_dir / CHECKPOINT))

    def load_checkpoint(self, path: Path) -> None:
        state = checkpoint.load(path)
        if state.get("fingerprint") != self.fingerprint:
            theirs, ours = state.get("fingerprint") or {}, self.fingerprint
            differ = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
            if "data" in differ:
                raise CheckpointError(
                    f"the training data changed since {path} was written (its fingerprint "
                    f"{theirs.get('data')!r} is now {ours.get('data')!r}); resume with the data "
                    "the run started with, or start a new run"
                )
            raise CheckpointError(
                f"{path} was written by a different configuration (differs in {differ}); "
                "resume with the configuration the run was started with"
            )
        if state["world"] != self.ctx.world:
            raise CheckpointError(
                f"{path} was written by {state['world']} process(es), this run has "
                f"{self.ctx.world}; resume with the same --nproc_per_node"
            )
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(f"{path} does not fit this model: {one_line(err, 300)}") from None
        self.step, self.elapsed = state["step"], state["elapsed"]
        self.best_valid, self.best_step, self.evals_since_best = state["best"]
        self.last_valid = state["last_valid"]
        self.valid_step = state.get("valid_step", -1)
        self.train_loss, self.first_loss = state.get("train_loss", [math.nan, math.nan])
        mine = state["ranks"][self.ctx.rank]
        self.window = list(mine.get("window", [0.0, 0, 0]))
        self.carry = to_device(mine["carry"], self.ctx.device)
        set_rng_state(mine["rng"], self.ctx.device)
        self.metrics.truncate_after(self.step)

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        try:
            sums = self.task.evaluate(self.model, self.ctx)
        finally:
            self.model.train()
        names = sorted(sums)
        totals = torch.tensor([sums[n] for n in names], dtype=torch.float64)  # (M, 2)
        totals = distributed.all_reduce(totals, self.ctx)
        pairs = zip(names, totals.tolist(), strict=True)
        return {n: (s / c if c else float("nan")) for n, (s, c) in pairs}

    def _validate(self) -> None:
        metrics = self.evaluate()
        if not math.isfinite(metrics["loss"]):
            raise self._diverged("the validation loss", metrics["loss"])
        self.last_valid, self.valid_step = metrics, self.step
        improved = metrics["loss"] < self.best_valid
        if improved:
            self.best_valid, self.best_step, self.evals_since_best = metrics["loss"], self.step, 0
            if self.run_dir is not None:
                checkpoint.save(
                    {"step": self.step, "model": self.model.state_dict()}, self.run_dir / BEST
                )
        else:
            self.evals_since_best += 1
        row = {"step": self.step, "split": "valid", "elapsed": round(self.elapsed, 2), **metrics}
        if self.ctx.distributed:
            row["rank_param_spread"] = self.parameter_spread()
        self.metrics.append(row)
        self._emit("eval", step=self.step, metrics=metrics, best=self.best_valid, improved=improved)

    def parameter_spread(self) -> float:
        """Largest difference between ranks of a float64 checksum of the parameters: 0 when
        DDP keeps the replicas identical, as it should."""
        with torch.no_grad():
            total = sum(p.double().sum() * (i + 1) for i, p in enumerate(self.model.parameters()))
        sums = distributed.gather_objects(float(total), self.ctx)
        return max(sums) - min(sums)

    # ------------------------------------------------------------------ the loop
    def fit(self, resume: bool = False) -> TrainResult:
        if resume:
            self._resume()
        cfg = self.cfg
        self._emit(
            "start",
            step=self.step,
            max_steps=cfg.max_steps,
            time_budget=cfg.time_budget,
            elapsed=self.elapsed,
            items=self.task.items,
            resumed=self.step > 0,
        )
        with self._interrupts_between_steps():
            reason = self._loop()
        if self.valid_step != self.step:
            self._validate()
        self.save_checkpoint()
        result = TrainResult(
            step=self.step,
            elapsed=self.elapsed,
            train_loss=self.train_loss,
            valid=self.last_valid,
            best_valid_loss=self.best_valid,
            best_step=self.best_step,
            stop_reason=reason,
        )
        self._emit("end", result=result)
        return result

    def _resume(self) -> None:
        if self.run_dir is None and self.ctx.main:
            raise CheckpointError("resuming needs the run folder that holds the checkpoint")
        path = distributed.broadcast_object(
            str(self.run_dir / CHECKPOINT) if self.run_dir else None, self.ctx
        )
        if not Path(path).exists():
            # Stopped before its first checkpoint: nothing to continue, so start it over here.
            if self.metrics.truncate_after(0):
                self._emit("restart", checkpoint_every=self.cfg.checkpoint_every)
            return
        self.load_checkpoint(Path(path))

    @contextlib.contextmanager
    def _interrupts_between_steps(self):
        """Ctrl-C stops the run after the current step (or validation) with a checkpoint of
        that step; a second Ctrl-C stops at once and keeps the last periodic checkpoint. (A
        checkpoint written in the middle of a step could hold weights updated for a step it
        doesn't count.) Only in one process, from the main thread: torchrun handles signals
        for its ranks."""
        if self.ctx.distributed or threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(signum, frame):
            self._interrupted = True
            signal.signal(signal.SIGINT, signal.default_int_handler)

        previous = signal.signal(signal.SIGINT, request_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _diverged(self, what: str, value: float) -> DivergedError:
        first = f" (the first step's was {self.first_loss:.4g})"
        return DivergedError(
            f"training diverged at step {self.step:,}: {what} is {value:.4g}"
            f"{first if math.isfinite(self.first_loss) else ''}, the sign of exploding "
            f"gradients; lower train.lr (now {self.cfg.lr:g}), clip gradients harder "
            f"(train.clip_norm, now {self.cfg.clip_norm:g}) or warm up longer "
            f"(train.warmup_steps, now {self.cfg.warmup_steps})"
        )

    def _loop(self) -> str:
        """Steps until a stop condition; returns it."""
        cfg = self.cfg
        window_start = clock = time.perf_counter()
        while not (reason := self._done()):
            if self._interrupted:
                self._interrupted = False
                self.save_checkpoint()
                raise KeyboardInterrupt
            lr = self.lr()
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            batch = to_device(self.task.train_batch(self.step, self.ctx), self.ctx.device)
            loss, carry, items = self.task.train_step(self.net, batch, self.carry)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = (
                float(nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_norm))
                if cfg.clip_norm > 0
                else float("nan")
            )
            self.optimizer.step()
            value = float(loss.detach())  # after the step: a GPU runs it without waiting
            if not math.isfinite(self.first_loss):  # the untrained model's loss, over ranks
                first = torch.tensor([value], dtype=torch.float64)
                self.first_loss = float(distributed.all_reduce(first, self.ctx)) / self.ctx.world
            if not math.isfinite(value) and not self.ctx.distributed:
                # The weights it poisoned are never checkpointed. (Under DDP the ranks stop
                # together at the next log, on the mean over ranks.)
                raise self._diverged("the training loss", value)
            self.carry = detach(carry)
            self.step += 1
            self.window[0] += value
            self.window[1] += 1
            self.window[2] += items * self.ctx.world
            now = time.perf_counter()
            self.elapsed += now - clock
            clock = now
            if cfg.time_budget and self.ctx.distributed:
                # Ranks must agree on the schedule and on when the budget is spent.
                self.elapsed = float(
                    distributed.all_reduce(
                        torch.tensor([self.elapsed], dtype=torch.float64),
                        self.ctx,
                        op=torch.distributed.ReduceOp.MAX,
                    )
                )
            if self.step % cfg.log_every == 0 or self._done():
                self._log(lr, grad_norm, self.window[2] / max(now - window_start, 1e-9), items)
                window_start = now
            if self.step % cfg.eval_every == 0:
                self._validate()
            if self.step % cfg.checkpoint_every == 0:
                self.save_checkpoint()
            if self.step % cfg.eval_every == 0 or self.step % cfg.checkpoint_every == 0:
                # Both count against the time budget (wall time) but not against the
                # throughput of the next logging window.
                window_start = time.perf_counter()
        return reason

    def _log(self, lr: float, grad_norm: float, rate: float, items: int) -> None:
        """Log the window's mean training loss (over ranks); stop if it diverged."""
        total, steps, _ = self.window
        mean = torch.tensor([total / steps], dtype=torch.float64)
        self.train_loss = float(distributed.all_reduce(mean, self.ctx)) / self.ctx.world
        self.window = [0.0, 0, 0]
        factor = self.cfg.divergence_factor
        if not math.isfinite(self.train_loss) or (
            factor and self.train_loss > factor * self.first_loss
        ):
            raise self._diverged("the training loss", self.train_loss)
        self.metrics.append(
            {
                "step": self.step,
                "split": "train",
                "loss": self.train_loss,
                "lr": lr,
                "grad_norm": grad_norm,
                f"{self.task.items}_per_s": round(rate, 1),
                "elapsed": round(self.elapsed, 2),
            }
        )
        self._emit(
            "train",
            step=self.step,
            loss=self.train_loss,
            lr=lr,
            rate=rate,
            elapsed=self.elapsed,
            eta=self._eta(rate, items),
        )

    def _eta(self, rate: float, items_per_step: int) -> float:
        """Seconds left by the step limit or the time budget, whichever comes first."""
        left = []
        if self.cfg.max_steps:
            per_step = items_per_step * self.ctx.world / max(rate, 1e-9)
            left.append((self.cfg.max_steps - self.step) * per_step)
        if self.cfg.time_budget:
            left.append(self.cfg.time_budget - self.elapsed)
        return max(0.0, min(left))
