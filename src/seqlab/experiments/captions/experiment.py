"""``captions``: Show, Attend and Tell (Xu et al. 2015) on scenes of real handwritten digits.

Three models with the same CNN, decoder sizes, data and seed: soft attention with the doubly
stochastic regulariser (λ = ``regulariser``), the same without it (λ = 0), and the fixed mean
annotation instead of attention. Each is scored on test scenes of held-out digit images and
held-out combinations (:mod:`seqlab.data.digit_scenes`) with greedy and beam search: BLEU-1…4
against every reference, exact-caption match, and attention precision (the share of a noun's
attention inside the box of the object it names).
"""

import multiprocessing
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from ... import config
from ...config import check, parse_list
from ...data import digit_scenes as ds
from ...data.synthetic import TEST, VALID
from ...models.captioner import Captioner, CaptionerConfig
from ...train import TrainConfig
from ...train.distributed import Context
from .. import sweep
from ..registry import Experiment, get, register
from ..rundir import Run
from .command import CAPTION
from .report import figures, headline, report, summary_lines
from .task import (
    MAX_WORDS,
    CaptionTask,
    attention_precision,
    bleu_scores,
    decode_scenes,
    is_exact,
    vocabulary,
    words,
)

# name -> (label, context, λ: None = the configuration's)
VARIANTS = {
    "attention": ("soft attention", "attention", None),
    "no-regulariser": ("soft attention, λ = 0", "attention", 0.0),
    "mean": ("mean context (no attention)", "mean", 0.0),
}


@dataclass(frozen=True)
class CaptionsConfig:
    model: CaptionerConfig = field(default_factory=CaptionerConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=3e-3,
            max_steps=2000,
            eval_every=250,
            checkpoint_every=500,
            min_lr_ratio=0.05,
            clip_norm=5.0,
        )  # fmt: skip
    )
    models: str = "attention,no-regulariser,mean"  # trained with the same data and seed
    baseline_steps: int = 0  # steps of the mean-context baseline (0: train.max_steps)
    regulariser: float = 0.005  # λ of the doubly stochastic regulariser (per target token)
    workers: int = 2  # processes training the models side by side, one thread each
    batch_size: int = 64
    valid_size: int = 256
    test_size: int = 1000
    beam: int = 3
    target_exact: float = 0.90  # greedy exact-caption match of the attention model
    target_bleu4: float = 80.0
    target_precision: float = 0.70
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        parse_list(self.models, "models", allowed=VARIANTS)
        check(self.baseline_steps >= 0, "baseline_steps", self.baseline_steps, ">= 0")
        check(self.regulariser >= 0, "regulariser", self.regulariser, "a number >= 0 (λ)")
        for name in ("batch_size", "valid_size", "test_size", "beam", "workers"):
            check(getattr(self, name) >= 1, name, getattr(self, name), "an integer >= 1")

    @property
    def kinds(self) -> tuple[str, ...]:
        return parse_list(self.models, "models", allowed=VARIANTS)

    def regulariser_of(self, kind: str) -> float:
        fixed = VARIANTS[kind][2]
        return self.regulariser if fixed is None else fixed

    def train_of(self, kind: str) -> TrainConfig:
        if kind != "mean" or not self.baseline_steps:
            return self.train
        return replace(self.train, max_steps=self.baseline_steps)


def max_length() -> int:
    """The longest caption decoding may write: the grammar's longest, plus two."""
    return MAX_WORDS + 2


def build_model(cfg: CaptionsConfig, kind: str, vocab_size: int) -> Captioner:
    return Captioner.from_config(cfg.model, vocab_size, ds.CANVAS, VARIANTS[kind][1])


def label(cfg: CaptionsConfig, kind: str) -> str:
    name = VARIANTS[kind][0]
    return f"{name}, λ = {cfg.regulariser:g}" if kind == "attention" else name


def score(hyps, scenes, vocab, grid: int) -> dict:
    """BLEU-1…4, exact match (overall and by number of objects) and attention precision."""
    texts = [" ".join(words(h, vocab)) for h in hyps]
    refs = [[" ".join(r) for r in s.references] for s in scenes]
    exact = [is_exact(h, s, vocab) for h, s in zip(hyps, scenes, strict=True)]
    by_objects = {}
    for n in range(1, ds.MAX_OBJECTS + 1):
        rows = [e for e, s in zip(exact, scenes, strict=True) if len(s.digits) == n]
        by_objects[str(n)] = sum(rows) / len(rows) if rows else None
    return {
        **bleu_scores(texts, refs),
        "exact": sum(exact) / len(exact),
        "exact_by_objects": by_objects,
        "attention": attention_precision(hyps, scenes, vocab, grid),
        "errors": [
            {"references": r, "output": t}
            for t, r, e in zip(texts, refs, exact, strict=True)
            if not e
        ][:8],
    }


def _parts(cfg: CaptionsConfig):
    """What every training of a run shares: digits, vocabulary, validation scenes and the
    fingerprint a checkpoint must match."""
    digits = ds.load_digits()
    valid = ds.draw_scenes(digits, "train", cfg.valid_size, cfg.seed, VALID)
    data = f"{zlib.crc32(digits.images.tobytes()):08x}"
    return digits, vocabulary(), valid, {**sweep.fingerprint("captions", cfg), "data": data}


def _fit(run: Run, cfg: CaptionsConfig, kind: str, parts, on_event=None):
    """Train (or, in a resumed run, read back) one model -> (model, its training record)."""
    digits, vocab, valid, fingerprint = parts
    torch.manual_seed(cfg.seed)  # the same initial CNN and decoder for every model
    model = build_model(cfg, kind, len(vocab))
    task = CaptionTask(digits, vocab, cfg.batch_size, valid, cfg.seed, cfg.regulariser_of(kind),
                       max_length())  # fmt: skip
    return model, sweep.fit(run, kind, model, task, cfg.train_of(kind), fingerprint, on_event)


def _fit_in_worker(folder: str, preset: str, cfg_dict: dict, kind: str, resume: bool) -> None:
    """One training in a process of its own (one thread), writing trainings/KIND."""
    torch.set_num_threads(1)
    cfg = config.from_dict(CaptionsConfig, cfg_dict)
    run = Run(get("captions"), preset, cfg, Path(folder), Context(), resume=resume)
    _fit(run, cfg, kind, _parts(cfg))


def train_all(cfg: CaptionsConfig, run: Run, parts, on_event=None) -> dict:
    """Every model of ``cfg.models`` -> {kind: (model, record)}. With ``workers`` > 1 on one
    CPU process, the trainings run in that many processes side by side (the longest first)
    and are then read back like the finished trainings of a resumed run."""
    kinds = cfg.kinds
    parallel = cfg.workers > 1 and len(kinds) > 1 and not run.ctx.distributed
    parallel = parallel and run.ctx.device.type == "cpu"
    if parallel:
        if on_event:
            text = f"training {len(kinds)} models in {cfg.workers} processes (no progress bar)"
            on_event("stage", {"text": text})
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(cfg.workers, len(kinds)), mp_context=spawn) as pool:
            args = (str(run.dir), run.preset, config.to_dict(cfg))
            jobs = [pool.submit(_fit_in_worker, *args, kind, run.resume) for kind in kinds]
            for job in jobs:
                job.result()
        run = replace(run, resume=True)
    out = {}
    for i, kind in enumerate(kinds, 1):
        if on_event and not parallel:
            on_event("stage", {"text": f"[{i}/{len(kinds)}] training {label(cfg, kind)}"})
        out[kind] = _fit(run, cfg, kind, parts, on_event)
    return out


def run(cfg: CaptionsConfig, run: Run, on_event=None):
    parts = _parts(cfg)
    digits, vocab = parts[0], parts[1]
    if run.ctx.main:
        vocab.save(run.dir / "vocab.json")
    test = ds.draw_scenes(digits, "test", cfg.test_size, cfg.seed, TEST)
    grid = ds.CANVAS // 8
    results, decoded = {}, {}
    for kind, (model, record) in train_all(cfg, run, parts, on_event).items():
        if on_event:
            how = f"greedy, beam {cfg.beam}"
            text = f"captioning {len(test):,} test scenes with {label(cfg, kind)} ({how})"
            on_event("stage", {"text": text})
        hyps = {how: decode_scenes(model, test, vocab, beam, max_length())
                for how, beam in (("greedy", 1), ("beam", cfg.beam))}  # fmt: skip
        decoded[kind] = hyps
        results[kind] = {
            "label": label(cfg, kind),
            "context": VARIANTS[kind][1],
            "regulariser": cfg.regulariser_of(kind),
            "steps": record["steps"],
            "train_seconds": record["train_seconds"],
            "valid": record["valid"],
            **{how: score(h, test, vocab, grid) for how, h in hyps.items()},
        }
    details = {
        "test_size": len(test),
        "test_by_objects": {
            str(n): sum(len(s.digits) == n for s in test) for n in range(1, ds.MAX_OBJECTS + 1)
        },
        "beam": cfg.beam,
        "grid": f"{grid}×{grid}",
        "results": results,
    }
    if run.ctx.main:
        for fig, name, caption in figures(run, cfg, test, vocab, decoded, results):
            run.save_figure(fig, name, caption)
    return run.finish(
        headline(cfg, results),
        details,
        report(cfg, run, details),
        lines=summary_lines(results),
        hints=[f"caption your own image: seqlab caption {run.dir} image.png --plot DIR"],
    )


PRESETS = {
    "quick": replace(
        CaptionsConfig(),
        model=CaptionerConfig(
            channels=4, annotation_size=16, embedding_size=8, hidden_size=16, attention_size=8
        ),  # fmt: skip
        train=TrainConfig(lr=1e-2, max_steps=12, eval_every=6, checkpoint_every=6),
        batch_size=16,
        valid_size=16,
        test_size=24,
        beam=2,
        workers=1,
    ),
    "default": CaptionsConfig(),
}

register(
    Experiment(
        name="captions",
        summary="Show, Attend and Tell on scenes of real handwritten digits: attention per word",
        presets=PRESETS,
        run=run,
        commands=(CAPTION,),
        one_thread=True,
        preset_notes={
            "quick": "tiny models, 12 steps each: a smoke test (seconds)",
            "default": "attention (λ = 0.005), λ = 0 and mean context, 2,000 steps each, in two "
            "processes (about 5 minutes)",
        },
    )
)
