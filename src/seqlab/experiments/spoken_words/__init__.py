"""``spoken-words``: spoken words told apart by an LSTM of 3-4 units on MFCC frames.

Part (a): "one" against "two" with **3 units**, a linear read-out at every frame, the
utterance's class from the frame outputs pooled (mean log-probability); trained on 4
utterances per class as the lecture does, then on more. Part (b): "one" against "one two" with
**4 units**, "one" padded with silence to the same length; the frame-wise decision should say
"one" until "two" begins, then flip.

Data (:mod:`seqlab.data.spoken`): words synthesized by espeak-ng and flite, 8 kHz, MFCCs of
25 ms frames every 10 ms. Training voices and held-out voices are disjoint; the held-out test
set is synthesized by voices no training set contains, and the real human voice (asterisk's
recordings of "one" and "two", one speaker) is tested the same way and never trained on.
"""

import statistics
from dataclasses import dataclass, field

import torch

from ...analysis.gates import lstm_internals
from ...config import check, parse_list
from ...data import speech
from ...data.features import FeatureConfig
from ...data.spoken import Placement, featurize, human_set
from ...models.spoken import FrameClassifier
from ...train import TrainConfig
from ...viz import speech as plots
from .. import sweep
from ..registry import Experiment, register
from ..rundir import Run
from . import report as reporting
from .task import SpokenTask, build_set, examples, measure

PARTS = {"a": "one,two", "b": "one,one two"}  # the classes' words of each part


@dataclass(frozen=True)
class SpokenConfig:
    parts: str = "a,b"
    hidden_a: int = 3
    hidden_b: int = 4
    sizes: str = "4,16,64,256"  # training utterances per class; each size × `seeds` seeds
    seeds: int = 3
    test_per_class: int = 100  # held-out synthetic voices
    valid_per_class: int = 32  # training voices, other utterances (logged during training)
    human_placements: int = 10  # each human recording at this many random placements
    held_out_voices: float = 0.25  # share of the voices kept for the test
    length_a: float = 1.0  # seconds per utterance
    length_b: float = 2.0
    batch_size: int = 32
    backend: str = "auto"
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=0.03, max_steps=800, eval_every=200, checkpoint_every=400, log_every=50
        )
    )
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        parse_list(self.parts, "parts", allowed=PARTS)
        for n in parse_list(self.sizes, "sizes", int):
            check(n >= 1, "sizes", self.sizes, "utterance counts >= 1")
        for name in ("hidden_a", "hidden_b", "seeds", "test_per_class", "valid_per_class",
                     "human_placements", "batch_size"):  # fmt: skip
            check(getattr(self, name) >= 1, name, getattr(self, name), "an integer >= 1")
        check(0 < self.held_out_voices < 1, "held_out_voices", self.held_out_voices, "in (0, 1)")
        check(self.length_a >= 0.8, "length_a", self.length_a, "at least 0.8 seconds")
        check(self.length_b >= 1.6, "length_b", self.length_b, "at least 1.6 seconds")


FEATURES = FeatureConfig()


def classes_of(part: str) -> list[tuple[str, ...]]:
    return [tuple(c.split()) for c in PARTS[part].split(",")]


def run(cfg: SpokenConfig, run: Run, on_event=None):
    speech.check_tools()
    train_voices, test_voices = speech.split_voices(cfg.held_out_voices, cfg.seed)
    details = {"voices": {"train": [str(v) for v in train_voices],
                          "held_out": [str(v) for v in test_voices]}}  # fmt: skip
    for part in parse_list(cfg.parts, "parts", allowed=PARTS):
        details[part] = run_part(cfg, run, part, train_voices, test_voices, on_event)
    return run.finish(reporting.headline(details), details, reporting.report(cfg, run, details))


def run_part(cfg, run: Run, part: str, train_voices, test_voices, on_event) -> dict:
    classes = classes_of(part)
    placement = Placement(length_s=cfg.length_a if part == "a" else cfg.length_b)
    hidden = cfg.hidden_a if part == "a" else cfg.hidden_b
    stage(on_event, f"part ({part}): synthesizing {' / '.join(map(' '.join, classes))}")
    base = 1000 * (ord(part) - ord("a") + 1) + cfg.seed * 100_000
    test = build_set(classes, cfg.test_per_class, test_voices, placement, FEATURES, base + 1)
    human = featurize(human_set(classes, cfg.human_placements, placement, base + 2), FEATURES)
    valid = build_set(classes, cfg.valid_per_class, train_voices, placement, FEATURES, base + 3)
    results, models = [], {}
    sizes = parse_list(cfg.sizes, "sizes", int)
    for n in sizes:
        for s in range(cfg.seeds):
            seed = cfg.seed + s
            train = build_set(classes, n, train_voices, placement, FEATURES, base + 10 * n + s + 7)
            torch.manual_seed(seed)
            model = FrameClassifier(FEATURES.n_ceps, hidden, 2, cfg.backend)
            model.fit_normaliser(train.x)
            task = SpokenTask(train, valid, part == "b", cfg.batch_size, seed)
            name = f"{part}-{n}-per-class-seed{seed}"
            rec = sweep.fit(run, name, model, task, cfg.train, sweep.fingerprint("spoken", cfg),
                            on_event)  # fmt: skip
            model = model.cpu().eval()
            row = {"per_class": n, "seed": seed, "steps": rec["steps"],
                   "train_seconds": rec["train_seconds"], "train_voices": sorted(
                       {u.source.split(" ")[0] for u in train.utterances})}  # fmt: skip
            found_test, found_human = measure(model, test, part), measure(model, human, part)
            row["synthetic"], row["human"] = found_test["accuracy"], found_human["accuracy"]
            for key in ("decision_offsets", "flip_share", "flip_delays", "never_flip_share"):
                if key in found_test:
                    row[key] = found_test[key]
                    row[f"human_{key}"] = found_human[key]
            results.append(row)
            models[(n, seed)] = model
            stage(on_event, f"part ({part}) {hidden} units, {n}/class, seed {seed}: held-out "
                  f"{row['synthetic']:.1%}, human {row['human']:.1%}")  # fmt: skip
    shown = models[(sizes[-1], cfg.seed)]
    if run.ctx.main:
        figures(cfg, run, part, classes, shown, test, human, results, hidden)
    return {"classes": [" ".join(c) for c in classes], "hidden": hidden,
            "results": results, "by_size": by_size(results, part)}  # fmt: skip


def stage(on_event, text: str) -> None:
    if on_event:
        on_event("stage", {"text": text})


def by_size(results: list[dict], part: str) -> dict:
    """Per training size: median (and range) over seeds of every measurement."""
    out = {}
    for n in sorted({r["per_class"] for r in results}):
        rows = [r for r in results if r["per_class"] == n]
        summary = {}
        keys = ["synthetic", "human"] + (["flip_share", "never_flip_share"] if part == "b" else [])
        for key in keys:
            values = [r[key] for r in rows]
            summary[key] = {"median": statistics.median(values), "min": min(values),
                            "max": max(values)}  # fmt: skip
        if part == "a":
            offsets = [o for r in rows for o in r["decision_offsets"]]
            summary["decision_offset_frames"] = (
                {"median": statistics.median(offsets),
                 "share_before_word_end": sum(o <= 0 for o in offsets) / len(offsets)}
                if offsets else None
            )  # fmt: skip
        else:
            delays = [d for r in rows for d in r["flip_delays"]]
            summary["flip_delay_frames"] = statistics.median(delays) if delays else None
        out[n] = summary
    return out


def figures(cfg, run: Run, part, classes, model, test, human, results, hidden) -> None:
    names = [" ".join(c) for c in classes]
    frame_s = FEATURES.step_s
    rows = [int((test.y == k).nonzero()[0]) for k in (0, 1)]
    human_rows = [int((human.y == k).nonzero()[0]) for k in (0, 1)]
    n = results[-1]["per_class"]
    shown = examples(model, test, rows, FEATURES,
                     [f'held-out voice: "{names[k]}"\n{test.utterances[r].source}'
                      for k, r in enumerate(rows)])  # fmt: skip
    shown += examples(
        model,
        human,
        human_rows,
        FEATURES,
        [f'human voice: "{names[k]}"\n(asterisk recording)' for k in (0, 1)],
    )
    run.save_figure(
        plots.decision_figure(shown, names, frame_s),
        f"decision_{part}.png",
        f"Part ({part}), {hidden} units, {n} utterances per class: log-mel spectrograms of "
        f"held-out utterances and the human voice, with the network's per-frame probability "
        f'of "{names[1]}" under each (words shaded).',
    )
    r = rows[1]
    inside = lstm_internals(model.lstm, model.normalise(test.x[r : r + 1]))
    run.save_figure(
        plots.internals_figure({k: v[0].numpy() for k, v in inside.items()}, test.spans[r],
                               test.utterances[r].words, frame_s,
                               f'part ({part}): the {hidden} units on a held-out "{names[1]}"'),
        f"units_{part}.png",
        f"Part ({part}): cell state, output and gates of each of the {hidden} LSTM units over "
        f'a held-out "{names[1]}" utterance (words shaded).',
    )  # fmt: skip
    run.save_figure(
        plots.data_size_figure(results, f"part ({part}): {' vs '.join(names)}, {hidden} units"),
        f"data_size_{part}.png",
        f"Part ({part}): held-out accuracy against the number of training utterances per class "
        "(dots: seeds).",
    )


PRESETS = {
    "quick": SpokenConfig(
        sizes="4,8",
        seeds=1,
        test_per_class=8,
        valid_per_class=4,
        human_placements=2,
        train=TrainConfig(
            lr=0.03, max_steps=40, eval_every=20, checkpoint_every=40, log_every=10
        ),  # fmt: skip
    ),
    "default": SpokenConfig(),
}

register(
    Experiment(
        name="spoken-words",
        summary='"one" vs "two" with 3 LSTM units, "one" vs "one two" with 4, on MFCC frames',
        presets=PRESETS,
        run=run,
        one_thread=True,
        preset_notes={
            "quick": "2 sizes x 1 seed x 40 steps per part, seconds",
            "default": "4/16/64/256 utterances per class x 3 seeds per part",
        },
    )
)
