"""``translate-dates``: dates as people write them, in many locales and formats ("19 mai 2074",
"Tuesday, March 3, 1998", "3/3/98") -> ISO ``YYYY-MM-DD``, character by character.

Two decoders with the same encoder, sizes, data and number of steps: Bahdanau's additive
attention, and the fixed-context baseline that sees only the encoder's final states; beside
them a small Transformer (``transformer`` section) with the same data and steps. All are
scored by exact match on test dates that never occur in training (the split is by date), with
greedy and beam search; the attention model's alignments show which characters of the source
each output digit read.
"""

import datetime
import random
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ...config import check
from ...data import dates
from ...data.synthetic import TEST, VALID, generator
from ...data.vocab import TokenVocab, char_tokens
from ...models.seq2seq import Seq2SeqConfig
from ...models.transformer import TransformerConfig
from ...report.summary import Headline
from ...train import TrainConfig
from ...train.metrics import read_metrics
from ...viz.alignment import alignment_grid
from ..registry import Experiment, register
from ..rundir import Run
from .dates_report import dates_lines, dates_report
from .heads import save_head_maps
from .pipeline import Corpus, alignment_of, fit_and_decode, translate_command
from .report import curves_figure
from .task import DecodeConfig, model_kinds


@dataclass(frozen=True)
class TranslateDatesConfig:
    rnn: Seq2SeqConfig = field(
        default_factory=lambda: Seq2SeqConfig(
            embedding_size=32, hidden_size=64, attention_size=64, readout_size=128
        )
    )
    transformer: TransformerConfig = field(
        default_factory=lambda: TransformerConfig(
            d_model=64,
            heads=4,
            ff_size=256,
            schedule="noam",
            warmup_steps=200,
            lr=2e-3,
            beta2=0.98,
        )
    )
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=3e-3, max_steps=2500, eval_every=100, checkpoint_every=250, min_lr_ratio=0.05
        )
    )
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    models: str = "additive,none,transformer"  # trained with the same budget (the table's names)
    batch_size: int = 128
    valid_size: int = 1000
    test_size: int = 2000
    target_accuracy: float = 0.99  # test exact match the attention model should reach
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        model_kinds(self)
        for name in ("batch_size", "valid_size", "test_size"):
            check(getattr(self, name) >= 1, name, getattr(self, name), "an integer >= 1")
        check(0 < self.target_accuracy <= 1, "target_accuracy", self.target_accuracy, "in (0, 1]")

    @property
    def kinds(self) -> tuple[str, ...]:
        return model_kinds(self)


def _rng(seed: int, index: int) -> random.Random:
    return random.Random(int(torch.randint(2**62, (1,), generator=generator(seed, index))))


def source_vocabulary() -> TokenVocab:
    """Every character any format writes: all formats of every day of 1999 and 2000 cover
    every month and weekday name and every digit."""
    first = datetime.date(1999, 1, 1)
    days = [first + datetime.timedelta(days=k) for k in range(731)]
    text = {
        c
        for day in days
        for locale, fmt in dates.FORMATS
        for c in dates.date_pair(day, locale, fmt).source
    }
    return TokenVocab(sorted(text))


def build_corpus(cfg: TranslateDatesConfig) -> Corpus:
    source_vocab = source_vocabulary()
    target_vocab = TokenVocab(list("-0123456789"))

    def ids(pairs):
        return (
            [source_vocab.encode(char_tokens(p.source)) for p in pairs],
            [target_vocab.encode(char_tokens(p.target)) for p in pairs],
        )

    def draw(step: int):
        return ids(dates.sample_pairs(cfg.batch_size, "train", _rng(cfg.seed, step)))

    valid = dates.sample_pairs(cfg.valid_size, "valid", _rng(cfg.seed, VALID))
    test = dates.sample_pairs(cfg.test_size, "test", _rng(cfg.seed, TEST))
    return Corpus(
        source_vocab,
        target_vocab,
        detokenize="".join,
        draw=draw,
        valid=ids(valid),
        test_sources=ids(test)[0],
        test_references=[p.target for p in test],
        extra={"test_pairs": test},
    )


def steps_to(run: Run, kind: str, accuracy: float) -> int | None:
    """The first validation step at which greedy exact match reached ``accuracy``."""
    rows = read_metrics(run.dir / "trainings" / kind / "metrics.jsonl")
    hits = [r["step"] for r in rows if r.get("split") == "valid" and r.get("exact", 0) >= accuracy]
    return min(hits) if hits else None


def exact_match(outputs: list[str], references: list[str]) -> float:
    return float(np.mean([a == b for a, b in zip(outputs, references, strict=True)]))


def year_attention(pairs, hyps) -> float | None:
    """Share of output year digits (first four outputs) whose strongest attention lies on the
    source's four-digit year (or one character beside it), over test dates that write the
    year with four digits; None if there are none."""
    hits = total = 0
    for pair, hyp in zip(pairs, hyps, strict=True):
        year = pair.target[:4]
        at = pair.source.find(year)
        if at < 0 or hyp.alignment is None or hyp.alignment.shape[0] < 4:
            continue
        strongest = hyp.alignment[:4].argmax(dim=1)  # (4,)
        hits += int(((strongest >= at - 1) & (strongest <= at + 4)).sum())
        total += 4
    return hits / total if total else None


def run(cfg: TranslateDatesConfig, run: Run, on_event=None):
    corpus = build_corpus(cfg)
    trained = fit_and_decode(run, "translate-dates", corpus, cfg, on_event, exact=True)
    pairs, refs = corpus.extra["test_pairs"], corpus.test_references
    results = {}
    for t in trained:
        results[t.kind] = {
            "label": t.label,
            "attends": t.attends,
            "exact_greedy": exact_match(t.greedy_text, refs),
            "exact_beam": exact_match(t.beam_text, refs),
            "valid": t.record["valid"],
            "steps": t.record["steps"],
            "train_seconds": t.record["train_seconds"],
            "year_attention": year_attention(pairs, t.greedy),
            "steps_to_target": steps_to(run, t.kind, cfg.target_accuracy),
            "errors": [
                {"source": p.source, "target": p.target, "output": out}
                for p, out in zip(pairs, t.greedy_text, strict=True)
                if out != p.target
            ][:10],
        }
    details = {
        "test_size": len(pairs),
        "source_lengths": [min(len(p.source) for p in pairs), max(len(p.source) for p in pairs)],
        "beam": cfg.decode.beam,
        "target_accuracy": cfg.target_accuracy,
        "results": results,
    }
    attention = next((t for t in trained if t.attends), None)
    if attention is not None and run.ctx.main:
        grid = [
            alignment_of(
                list(pairs[i].source), corpus.target_vocab, attention.greedy[i], pairs[i].source
            )
            for i in _examples(pairs)
        ]
        run.save_figure(
            alignment_grid(grid, cols=3, title=f"{attention.label}: α_ij on test dates"),
            "alignments.png",
            "α_ij on test dates: the source's characters along x, the characters the attention "
            "model wrote (greedy) along y. Each output digit should read its own part of the "
            "source.",
        )
    shown = _examples(pairs)[0]
    details["head_maps"] = save_head_maps(
        run, trained, corpus.test_sources[shown], list(pairs[shown].source), shown, "date",
        pairs[shown].source,
    )  # fmt: skip
    if run.ctx.main:
        run.save_figure(
            curves_figure(run, trained),
            "training.png",
            "Validation loss and greedy exact match against training step, one line per model.",
        )
    target = cfg.target_accuracy
    headline = [
        Headline(
            f"exact match, {r['label']} (greedy)",
            round(100 * r["exact_greedy"], 2),
            "%",
            f"target >= {target:.0%} with attention"
            if r["attends"]
            else f"beam {cfg.decode.beam}: {r['exact_beam']:.2%}",
            r["exact_greedy"] >= target if r["attends"] else None,
        )
        for r in results.values()
    ]
    headline += [
        Headline(
            f"first step with validation exact >= {target:.0%}, {r['label']}",
            r["steps_to_target"],
            "",
            f"of {r['steps']:,} steps",
        )
        for r in results.values()
    ]
    return run.finish(
        headline,
        details,
        dates_report(cfg, run, details),
        lines=dates_lines(details),
        hints=[f'translate one: seqlab translate {run.dir} "3 mai 1998" --plot a.png'],
    )


def _examples(pairs, count: int = 6) -> list[int]:
    """Indices of test dates in different (locale, format)s, longest formats first."""
    seen, out = set(), []
    for i in sorted(range(len(pairs)), key=lambda i: -len(pairs[i].source)):
        key = pairs[i].format
        if key not in seen and len(out) < count:
            seen.add(key)
            out.append(i)
    return out[::2] + out[1::2]


PRESETS = {
    "quick": replace(
        TranslateDatesConfig(),
        rnn=Seq2SeqConfig(embedding_size=8, hidden_size=16, attention_size=16, readout_size=32),
        transformer=TransformerConfig(
            d_model=16, heads=2, encoder_layers=1, decoder_layers=1, ff_size=32, dropout=0.0
        ),
        models="additive,none,transformer",
        train=TrainConfig(lr=1e-2, max_steps=60, eval_every=30, checkpoint_every=30),
        decode=DecodeConfig(beam=3),
        batch_size=32,
        valid_size=64,
        test_size=64,
    ),
    "default": TranslateDatesConfig(),
}

TRANSLATE = translate_command(char_tokens, "".join)

register(
    Experiment(
        name="translate-dates",
        summary="dates in many locales and formats -> ISO, attention vs a fixed context vector",
        presets=PRESETS,
        run=run,
        commands=(TRANSLATE,),
        preset_notes={
            "quick": "tiny models, 60 steps each: a smoke test (seconds)",
            "default": "attention and fixed-context GRUs and a Transformer, 2,500 steps each, "
            "about 10 minutes",
        },
    )
)
