"""``topologies``: one small generated task for each topology of a recurrent network (Karpathy,
"The Unreasonable Effectiveness of Recurrent Neural Networks", 2015), each trained, then scored
on a held-out test set, and drawn unrolled with a real example and its measured accuracy.

- **one-to-one**: a 16-bit number → how many of its bits are set. One step (T = 1) of a tanh
  RNN plus a read-out, ``o = V tanh(W x + U·0 + b)``: a feed-forward net with one hidden layer
  (``U`` only ever multiplies ``z_0 = 0``, so its gradient is exactly zero — measured below).
  The numbers are split once, at random, into training and held-out test numbers, so the test
  measures numbers the net never saw.
- **one-to-many**: a digit → its English name, letter by letter ("three"), the digit setting
  the decoder's initial state ``z_0 = tanh(C[d])``, decoded greedily until an end symbol.
  There are only ten inputs: the test asks that all ten words come out exactly.
- **many-to-one**: digits (2-10 of them) → their sum mod 10, read out at each sequence's last
  frame. Chosen over "the maximum digit" because every digit matters to the answer, so the
  state must carry a running result, not a single flag.
- **synced many-to-many**: a bit stream → its running parity ``x_1 ⊕ … ⊕ x_t`` at every frame
  (:class:`~seqlab.models.tagger.SequenceTagger`); every frame's label depends on all before it.
- **sequence-to-sequence**: reverse 3-8 digits with an encoder-decoder *without attention*: the
  encoder's final state is the decoder's initial state, teacher forcing in training, greedy
  decoding with an end-of-sequence symbol for evaluation.

Headline metric: exact match (every output of an example right), beside per-unit accuracy
(letters, frames, tokens) and the best constant answer's exact-match accuracy (``chance``).
Training batches come from ``(seed, step)``, validation from ``(seed, VALID)``, the test set
from ``(seed, TEST)``; the share of test inputs that also occur in some training batch is
measured and reported (short sequences recur).
"""

from dataclasses import dataclass, field

import torch

from ...config import check
from ...models.layers import CELLS
from ...report.summary import Headline
from ...train import TrainConfig
from ...viz.topologies import unrolled_graphs
from .. import sweep
from ..registry import Experiment, register
from ..rundir import Run
from .problems import PROBLEMS
from .report import graph, report, result_lines
from .tasks import TopologyTask, test


def _positive(section: str, obj, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        check(value >= 1, f"{section}.{name}", value, "an integer >= 1")


def _training(section: str, obj) -> None:
    _positive(section, obj, "steps")
    check(obj.lr > 0, f"{section}.lr", obj.lr, "a positive number")


def _lengths(section: str, obj) -> None:
    _positive(section, obj, "min_length", "max_length")
    check(
        obj.min_length <= obj.max_length,
        f"{section}.min_length",
        obj.min_length,
        f"<= {section}.max_length ({obj.max_length})",
    )


@dataclass(frozen=True)
class OneToOneConfig:
    bits: int = 16
    test_fraction: float = 0.2  # of the 2**bits numbers, never drawn in training
    hidden_size: int = 64
    steps: int = 2000
    lr: float = 1e-2

    def __post_init__(self):
        check(2 <= self.bits <= 20, "one_to_one.bits", self.bits, "an integer in [2, 20]")
        check(
            0 < self.test_fraction < 1,
            "one_to_one.test_fraction",
            self.test_fraction,
            "a fraction in (0, 1)",
        )
        _positive("one_to_one", self, "hidden_size")
        _training("one_to_one", self)


@dataclass(frozen=True)
class OneToManyConfig:
    embedding_size: int = 16
    hidden_size: int = 64
    steps: int = 300
    lr: float = 3e-3

    def __post_init__(self):
        _positive("one_to_many", self, "embedding_size", "hidden_size")
        _training("one_to_many", self)


@dataclass(frozen=True)
class ManyToOneConfig:
    min_length: int = 2
    max_length: int = 10
    embedding_size: int = 16
    hidden_size: int = 64
    steps: int = 2000
    lr: float = 1e-2

    def __post_init__(self):
        _lengths("many_to_one", self)
        _positive("many_to_one", self, "embedding_size", "hidden_size")
        _training("many_to_one", self)


@dataclass(frozen=True)
class SyncedConfig:
    min_length: int = 4
    max_length: int = 20
    hidden_size: int = 32
    steps: int = 800
    lr: float = 3e-3

    def __post_init__(self):
        _lengths("synced", self)
        _positive("synced", self, "hidden_size")
        _training("synced", self)


@dataclass(frozen=True)
class Seq2SeqConfig:
    min_length: int = 3
    max_length: int = 8
    embedding_size: int = 16
    hidden_size: int = 128
    steps: int = 2000
    lr: float = 3e-3

    def __post_init__(self):
        _lengths("seq2seq", self)
        _positive("seq2seq", self, "embedding_size", "hidden_size")
        _training("seq2seq", self)


@dataclass(frozen=True)
class TrainSettings:
    """Shared by the five trainings (each has its own steps and learning rate)."""

    batch_size: int = 128
    min_lr_ratio: float = 0.05  # cosine decay to lr × this
    clip_norm: float = 1.0
    eval_every: int = 250
    valid_size: int = 500
    test_size: int = 2000  # one-to-one tests every held-out number instead

    def __post_init__(self):
        _positive("train", self, "batch_size", "eval_every", "valid_size", "test_size")
        check(0 <= self.min_lr_ratio <= 1, "train.min_lr_ratio", self.min_lr_ratio, "in [0, 1]")
        check(self.clip_norm >= 0, "train.clip_norm", self.clip_norm, ">= 0 (0 = off)")


@dataclass(frozen=True)
class TopologiesConfig:
    one_to_one: OneToOneConfig = field(default_factory=OneToOneConfig)
    one_to_many: OneToManyConfig = field(default_factory=OneToManyConfig)
    many_to_one: ManyToOneConfig = field(default_factory=ManyToOneConfig)
    synced: SyncedConfig = field(default_factory=SyncedConfig)
    seq2seq: Seq2SeqConfig = field(default_factory=Seq2SeqConfig)
    cell: str = "gru"  # of every recurrent network but one-to-one's single tanh step
    train: TrainSettings = field(default_factory=TrainSettings)
    target_accuracy: float = 0.95  # exact-match test accuracy that counts as learnt
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        check(self.cell in CELLS, "cell", self.cell, f"one of {sorted(CELLS)}")
        check(0 < self.target_accuracy <= 1, "target_accuracy", self.target_accuracy, "in (0, 1]")


def train_config(cfg: TopologiesConfig, sub) -> TrainConfig:
    """The Trainer's settings for the training whose section is ``sub`` (steps, lr)."""
    t = cfg.train
    every = min(t.eval_every, sub.steps)
    return TrainConfig(
        lr=sub.lr,
        clip_norm=t.clip_norm,
        min_lr_ratio=t.min_lr_ratio,
        max_steps=sub.steps,
        eval_every=every,
        checkpoint_every=every,
        log_every=min(10, sub.steps),
    )


def one_to_one_weight_hh_grad(problem, model, test_batch) -> float:
    """‖∂L/∂U‖ on the test set: 0 when the one-step RNN is the feed-forward net it claims."""
    model.zero_grad(set_to_none=True)
    model.train()
    device = next(model.parameters()).device
    problem.loss(model, tuple(t.to(device) for t in test_batch)).backward()
    grad = model.rnn.weight_hh_l0.grad
    norm = float(grad.norm()) if grad is not None else 0.0
    model.zero_grad(set_to_none=True)
    return norm


def run(cfg: TopologiesConfig, run: Run, on_event=None):
    ctx = run.ctx
    fingerprint = sweep.fingerprint("topologies", cfg)
    results, graphs = {}, []
    for i, cls in enumerate(PROBLEMS, 1):
        sub = getattr(cfg, cls.key)
        problem = cls(sub, cfg, cfg.seed)
        torch.manual_seed(cfg.seed + i)
        model = problem.build()
        task = TopologyTask(problem, cfg.train.batch_size, cfg.train.valid_size)
        record = sweep.fit(run, cls.key, model, task, train_config(cfg, sub), fingerprint, on_event)
        t = cfg.train
        found = test(problem, model, t.test_size, ctx.device, sub.steps, t.batch_size)
        scores, batch, pred = found["scores"], found["batch"], found["pred"]
        index = problem.example_index(batch)
        shown = problem.show(batch, pred, index)
        scores |= {
            "steps": record["steps"],
            "train_seconds": record["train_seconds"],
            "passed": scores["accuracy"] >= cfg.target_accuracy,
            "example": {"input": shown.input, "target": shown.target, "output": shown.output},
        }
        if cls.key == "one_to_one":
            scores["weight_hh_grad_norm"] = one_to_one_weight_hh_grad(problem, model, batch)
        results[cls.key] = {
            "topology": problem.topology,
            "task": problem.task,
            "unit": problem.unit,
            **scores,
        }
        graphs.append(graph(problem, scores, shown))
        if on_event:  # one line per finished training
            text = (
                f"[{i}/{len(PROBLEMS)}] {problem.topology} ({problem.task}): "
                f"{scores['accuracy']:.1%} exact on {scores['test_size']:,} test examples "
                f"(chance {scores['chance']:.1%})"
            )
            on_event("stage", {"text": text})
    details = {
        "target_accuracy": cfg.target_accuracy,
        "results": results,
        "passed": sum(r["passed"] for r in results.values()),
        "train_seconds": round(sum(r["train_seconds"] for r in results.values()), 1),
    }
    if ctx.main:
        run.save_figure(
            unrolled_graphs(graphs, rows=[3, 2]),
            "topologies.png",
            "Each topology's network unrolled over one test example, with its test accuracy "
            "(an orange box is a wrong output).",
        )
    headline = [
        Headline(
            f"{r['topology']} ({r['task']})",
            round(100 * r["accuracy"], 1),
            "%",
            f"exact match, target >= {cfg.target_accuracy:.0%}; chance {r['chance']:.1%}",
            r["passed"],
        )
        for r in results.values()
    ]
    return run.finish(headline, details, report(cfg, run, details), lines=result_lines(details))


PRESETS = {
    "quick": TopologiesConfig(
        one_to_one=OneToOneConfig(bits=8, test_fraction=0.25, hidden_size=16, steps=150, lr=3e-2),
        one_to_many=OneToManyConfig(hidden_size=16, steps=100, lr=1e-2),
        many_to_one=ManyToOneConfig(max_length=3, hidden_size=16, steps=150, lr=1e-2),
        synced=SyncedConfig(max_length=8, hidden_size=8, steps=150, lr=1e-2),
        seq2seq=Seq2SeqConfig(max_length=4, hidden_size=16, steps=150, lr=1e-2),
        train=TrainSettings(batch_size=32, eval_every=50, valid_size=64, test_size=128),
    ),
    "default": TopologiesConfig(),
}

register(
    Experiment(
        name="topologies",
        summary="one-to-one, one-to-many, many-to-one, synced and seq2seq RNNs on small tasks",
        presets=PRESETS,
        run=run,
        preset_notes={
            "quick": "tiny models, 100-150 steps each: a smoke test (seconds)",
            "default": "five GRU/RNN trainings to high test accuracy, about two minutes",
        },
    )
)
