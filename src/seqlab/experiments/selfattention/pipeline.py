"""The self-attention run: read the reviews, train one model per penalty coefficient with the
same data, steps and seed, test each, and draw the main model's word heatmaps."""

import hashlib
import json
import statistics

import torch

from ...data.reviews import load_reviews
from ...data.vocab import TokenVocab
from ...models.selfattentive import SelfAttentiveClassifier
from ...train.metrics import read_metrics
from ...viz.heatmap import Heatmap, heatmap_figure, heatmap_html
from .. import sweep
from ..rundir import Run
from . import report as reporting
from . import training_name
from .task import Encoded, ReviewTask, build_vocab, encode_reviews, predict

VOCAB = "vocab.json"
LABELS = ("negative", "positive")
SHORT = 60  # tokens: reviews short enough for the PNG's hops × words matrix
PAGE = 160  # tokens: reviews short enough to read on the HTML page


def prepare(cfg, run: Run | None = None):
    """(vocab, {split: Encoded}, facts about the data)."""
    splits = load_reviews(cfg.source)
    if cfg.excerpt:
        sizes = {"train": cfg.excerpt, "valid": cfg.excerpt // 4, "test": cfg.excerpt // 4}
        splits = {k: excerpt(v, sizes[k]) for k, v in splits.items()}
    vocab = build_vocab(splits["train"], cfg.vocab_size, cfg.min_count)
    data = {k: encode_reviews(v, vocab, cfg.max_tokens) for k, v in splits.items()}
    unk = vocab.unk
    facts = {
        "source": cfg.source,
        "reviews": {k: len(v.ids) for k, v in data.items()},
        "positive": {k: sum(v.labels) for k, v in data.items()},
        "truncated": {k: v.truncated for k, v in data.items()},
        "max_tokens": cfg.max_tokens,
        "vocab": len(vocab),
        "unknown_share": {
            k: sum(i == unk for r in v.ids for i in r) / max(v.tokens, 1) for k, v in data.items()
        },
        "mean_tokens": {k: v.tokens / max(len(v.ids), 1) for k, v in data.items()},
    }
    return vocab, data, splits, facts


def excerpt(reviews: list, count: int) -> list:
    """The first count/2 reviews of each label, in file order (the file is sorted by label)."""
    half = [[r for r in reviews if r.label == label][: (count + 1) // 2] for label in (0, 1)]
    return [r for pair in zip(*half, strict=False) for r in pair][:count]


def fingerprint(vocab: TokenVocab, data: dict[str, Encoded]) -> str:
    digest = hashlib.sha256(json.dumps(vocab.tokens).encode())
    for split in ("train", "valid", "test"):
        digest.update(json.dumps([data[split].ids[:50], data[split].labels]).encode())
    return digest.hexdigest()[:16]


def build(cfg, vocab_size: int) -> SelfAttentiveClassifier:
    return SelfAttentiveClassifier.from_config(cfg.model, vocab_size, len(LABELS))


def chosen_reviews(data: Encoded, count: int, limit: int) -> list[int]:
    """The first ``count`` test reviews of each label with at most ``limit`` tokens."""
    out = []
    for label in (1, 0):
        fits = [i for i, r in enumerate(data.ids) if data.labels[i] == label and len(r) <= limit]
        out += fits[:count]
    return out


def heatmap_of(vocab, data: Encoded, found: dict, i: int, tag: str) -> Heatmap:
    k = found["index"].index(i)
    probs = found["logits"][k].softmax(-1)
    words = vocab.decode(data.ids[i])
    title = (
        f"test review {i} · label {LABELS[data.labels[i]]} · {tag}: "
        f"p(positive) = {float(probs[1]):.3f}"
    )
    note = "<unk>: a word outside the vocabulary" if "<unk>" in words else ""
    if data.full_lengths[i] > len(words):
        note = (note + "; " if note else "") + f"cut to the first {len(words)} tokens"
    return Heatmap(words, found["weights"][i], title, note)


def run(cfg, run: Run, on_event=None):
    if on_event:
        on_event("stage", {"text": f"reading the {cfg.source} reviews"})
    vocab, data, _, facts = prepare(cfg, run)
    if run.ctx.main:
        vocab.save(run.dir / VOCAB)
    print_ = (lambda text: on_event("stage", {"text": text})) if on_event else (lambda text: None)
    print_(f"{facts['reviews']['train']:,} training reviews, vocabulary {len(vocab):,}")
    fp = {**sweep.fingerprint("self-attention", cfg), "data": fingerprint(vocab, data)}
    page = chosen_reviews(data["test"], cfg.heatmaps, PAGE)
    short = chosen_reviews(data["test"], 1, SHORT)
    keep = set(page) | set(short)
    results, found_by = {}, {}
    for penalty in cfg.penalty_list:
        name = training_name(penalty)
        print_(f"training C = {penalty:g}")
        torch.manual_seed(cfg.seed)
        model = build(cfg, len(vocab))
        task = ReviewTask(
            data["train"], data["valid"], cfg.batch_size, cfg.pool, penalty, cfg.seed, cfg.crop
        )
        rec = sweep.fit(run, name, model, task, cfg.train, fp, on_event)
        found = predict(model, data["test"], cfg.batch_size * 2, keep)
        labels = torch.tensor(found["labels"])
        right = int((torch.stack(found["logits"]).argmax(-1) == labels).sum())
        results[name] = {
            "penalty": penalty,
            "test_accuracy": right / len(labels),
            "test_right": right,
            "test_reviews": len(labels),
            "mean_penalty": statistics.fmean(found["penalty"]),
            "mean_overlap": statistics.fmean(found["overlap"])
            if model.attention.hops > 1
            else None,
            "valid_accuracy": rec["valid"].get("accuracy"),
            "steps": rec["steps"],
            "train_seconds": rec["train_seconds"],
            "cropped_share": task.cropped_share(0),
            "epochs": rec["steps"] / task.per_epoch,
        }
        found_by[name] = found
        print_(f"  test accuracy {100 * right / len(labels):.2f}%")
    names = list(results)
    main = names[0]
    if run.ctx.main:
        items = []
        for i in page:
            items += [
                heatmap_of(vocab, data["test"], found_by[n], i, f"C = {results[n]['penalty']:g}")
                for n in names
            ]
        intro = (
            "Each word is shaded by its attention weight over the row's largest; red: the "
            "hops summed, blue: each hop. Reviews of the held-out test split."
        )
        path = run.write_text(
            "heatmaps.html", heatmap_html(items, "self-attention heatmaps", intro)
        )
        run.add_artefact(
            path,
            f"Per-hop and summed word heatmaps of {len(page)} test reviews, "
            f"for each penalty coefficient ({', '.join(names)}).",
            "html",
        )
        panels = [
            heatmap_of(vocab, data["test"], found_by[n], i, f"C = {results[n]['penalty']:g}")
            for i in short
            for n in names
        ]
        run.save_figure(
            heatmap_figure(
                panels,
                "Attention of each hop over the first short test review of each label",
            ),
            "heatmaps.png",
            "Hops × words: the attention weights of each hop (and their mean) over "
            "the first test review of each label with at most 60 tokens, for each penalty "
            "coefficient.",
        )
        curves = {n: read_metrics(run.dir / "trainings" / n / "metrics.jsonl") for n in names}
        run.save_figure(
            reporting.curves_figure(curves),
            "training.png",
            "Validation accuracy and training loss of each model.",
        )
    details = {
        "data": facts,
        "models": results,
        "main": main,
        "heatmap_reviews": page,
        "png_reviews": short,
    }
    headline = reporting.headline(cfg, results, main)
    return run.finish(headline, details, reporting.report(cfg, run, facts, results, main))


def load_trained(run: Run, name: str | None = None):
    """(model, vocab, name) of a finished training of a run folder (default: the main one)."""
    from ...errors import InputError

    names = [training_name(p) for p in run.cfg.penalty_list]
    name = name or names[0]
    if name not in names:
        raise InputError(f"--model {name!r}: {run.dir} trained {', '.join(names)}; pick one")
    vocab = TokenVocab.load(run.dir / VOCAB)
    return sweep.load_finished(run, name, build(run.cfg, len(vocab))).eval(), vocab, name
