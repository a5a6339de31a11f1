"""The part of a translation run that does not depend on the corpus: train each model of
``models=`` with the same budget, decode the test sentences greedily and with beam search, and
``seqlab translate`` (one sentence through a trained run, with its alignment).

A corpus supplies vocabularies, tokenisers, the training draw, validation pairs and the test
sentences; the experiment scores the hypotheses its own way (exact match, BLEU).
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from ...data.vocab import TokenVocab
from ...decode import Hypothesis
from ...errors import InputError
from ...models.protocols import translation_variant
from ...viz.alignment import Alignment, alignment_figure
from .. import sweep
from ..registry import Command
from ..rundir import Run
from .heads import has_head_maps, head_maps
from .task import (
    DecodeConfig,
    Pairs,
    TranslationTask,
    build_model,
    decode_corpus,
    training_of,
)

SOURCE_VOCAB, TARGET_VOCAB = "source_vocab.json", "target_vocab.json"


@dataclass
class Corpus:
    source_vocab: TokenVocab
    target_vocab: TokenVocab
    detokenize: Callable[[list[str]], str]  # target tokens -> text
    draw: Callable[[int], Pairs]  # training step -> id pairs
    valid: Pairs
    test_sources: list[list[int]]  # ids
    test_references: list[str]  # target texts
    extra: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        """A short hash of the vocabularies, validation pairs and test set: a resumed run
        checks that its corpus (a Debian package, babel's locale data) is the one it began
        with."""
        digest = hashlib.sha256()
        for part in (
            self.source_vocab.tokens,
            self.target_vocab.tokens,
            self.valid,
            self.test_sources,
            self.test_references,
            self.draw(0),
        ):
            digest.update(json.dumps(part, ensure_ascii=False).encode("utf-8"))
        return digest.hexdigest()[:16]


@dataclass
class Trained:
    kind: str  # the model's name in the table of translation models
    record: dict
    greedy: list[Hypothesis]  # one per test source
    beam: list[Hypothesis]
    greedy_text: list[str]  # the same, detokenised
    beam_text: list[str]
    model: object = None  # the trained model (its final weights)
    target_vocab: TokenVocab | None = None

    @property
    def label(self) -> str:
        return translation_variant(self.kind).label

    @property
    def attends(self) -> bool:
        return translation_variant(self.kind).attends


def fit_and_decode(run: Run, experiment: str, corpus: Corpus, cfg, on_event=None, exact=False):
    """Train one model per kind of ``cfg.models`` (same data, steps and seed; each from its
    section of ``cfg``, training settings ``cfg.train``) in ``trainings/KIND``, then decode the
    test sources with greedy and beam search (``cfg.decode``) -> a list of :class:`Trained`.
    ``exact``: also measure greedy exact match at every validation (cheap for short targets)."""
    if run.ctx.main:
        corpus.source_vocab.save(run.dir / SOURCE_VOCAB)
        corpus.target_vocab.save(run.dir / TARGET_VOCAB)
    fingerprint = {**sweep.fingerprint(experiment, cfg), "data": corpus.fingerprint()}
    vocab, decode_cfg = corpus.target_vocab, cfg.decode
    out = []
    for i, kind in enumerate(cfg.kinds, 1):
        label = translation_variant(kind).label
        if on_event:
            done = run.resume and (run.dir / "trainings" / kind / sweep.RESULT).exists()
            verb = "reading back the trained" if done else "training"
            on_event("stage", {"text": f"[{i}/{len(cfg.kinds)}] {verb} {label}"})
        torch.manual_seed(cfg.seed)  # the same initial embeddings and encoder for every kind
        model = build_model(cfg, kind, len(corpus.source_vocab), len(vocab))
        train, smoothing = training_of(cfg, kind)
        task = TranslationTask(corpus.draw, corpus.valid, vocab.bos, vocab.eos, exact=exact,
                               label_smoothing=smoothing)  # fmt: skip
        record = sweep.fit(run, kind, model, task, train, fingerprint, on_event)
        if on_event:
            text = (
                f"      decoding {len(corpus.test_sources):,} test sentences (greedy, beam "
                f"{decode_cfg.beam})"
            )
            on_event("stage", {"text": text})
        hyps = [
            decode_corpus(model, corpus.test_sources, vocab.bos, vocab.eos, decode_cfg, beam)
            for beam in (1, decode_cfg.beam)
        ]
        texts = [[corpus.detokenize(vocab.decode(h.tokens)) for h in found] for found in hyps]
        out.append(Trained(kind, record, *hyps, *texts, model=model, target_vocab=vocab))
    return out


def alignment_of(source_tokens, target_vocab, hyp: Hypothesis, title: str = "") -> Alignment:
    """The matrix of one hypothesis: output tokens (EOS included when it finished) × source."""
    target = target_vocab.decode(hyp.tokens) + (["</s>"] if hyp.finished else [])
    return Alignment(source_tokens, target, hyp.alignment.numpy(), title)


# -- seqlab translate ---------------------------------------------------------------------------


def load_trained(run: Run, kind: str | None):
    """(model, source vocab, target vocab, kind) of a finished training in a run folder; by
    default the first model the run trained that attends."""
    kinds = run.cfg.kinds
    if kind is None:
        kind = next((k for k in kinds if translation_variant(k).attends), kinds[0])
    if kind not in kinds:
        raise InputError(
            f"--model {kind!r}: {run.dir} trained {', '.join(kinds)}; pick one of those"
        )
    source_vocab = TokenVocab.load(run.dir / SOURCE_VOCAB)
    target_vocab = TokenVocab.load(run.dir / TARGET_VOCAB)
    model = build_model(run.cfg, kind, len(source_vocab), len(target_vocab))
    return sweep.load_finished(run, kind, model), source_vocab, target_vocab, kind


def translate(
    run: Run,
    text: str,
    tokenize: Callable[[str], list[str]],
    detokenize: Callable[[list[str]], str],
    beam: int | None = None,
    plot: str | None = None,
    kind: str | None = None,
    allow_unknown: bool = False,
) -> dict:
    """One sentence through a trained run: the translation, its scores and, with ``plot``, a
    saved alignment heatmap. ``beam`` (default the run's decode.beam; 1 = greedy)."""
    if not text or not text.strip():
        raise InputError('the sentence to translate is empty; give some text, e.g. "3 May 1998"')
    decode_cfg: DecodeConfig = run.cfg.decode
    beam = decode_cfg.beam if beam is None else beam
    if beam < 1:
        raise InputError(f"--beam {beam}: expected an integer >= 1 (1 = greedy)")
    model, source_vocab, target_vocab, kind = load_trained(run, kind)
    variant = translation_variant(kind)
    if plot and not variant.attends:
        raise InputError(
            f"the {kind} model has no attention, so there is no alignment to plot; "
            "use --model with an attention model of this run"
        )
    tokens = tokenize(text)
    if not tokens:
        raise InputError(f"{text!r} holds no tokens this model reads; give some words")
    missing = source_vocab.unknown(tokens)
    if missing and not allow_unknown:
        raise InputError(
            f"{len(missing)} token(s) of {text!r} are not in the vocabulary this model learnt "
            f"({len(source_vocab):,} tokens): {source_vocab.listing(missing)}; rephrase, or pass "
            "--allow-unknown to read them as <unk>"
        )
    ids = source_vocab.encode(tokens, unknown="unk")
    bos, eos = target_vocab.bos, target_vocab.eos
    (hyp,) = decode_corpus(model, [ids], bos, eos, decode_cfg, beam)
    result = {
        "model": kind,
        "label": variant.label,
        "translation": detokenize(target_vocab.decode(hyp.tokens)),
        "log_prob": hyp.log_prob,
        "finished": hyp.finished,
        "beam": beam,
        "unknown": missing,
    }
    if plot:
        shown = ["<unk>" if t in set(missing) else t for t in tokens]
        if has_head_maps(model):  # every layer's and head's weights, not one average
            fig = head_maps(model, ids, shown, hyp, target_vocab, f"{variant.label}: {text}")
        else:
            fig = alignment_figure(alignment_of(shown, target_vocab, hyp, variant.label))
        result["plot"] = str(save_plot(fig, Path(plot)))
    return result


def save_plot(fig, path: Path) -> Path:
    """Save a figure a person asked for at ``path``; an InputError if it cannot be written."""
    try:
        fig.savefig(path, dpi=120)
    except OSError as err:
        raise InputError(
            f"--plot {path}: cannot write it ({err.strerror or err}); choose a writable path"
        ) from None
    finally:
        plt.close(fig)
    return path


def translate_arguments(parser) -> None:
    """The options of ``seqlab translate`` (shared by every translation experiment)."""
    parser.add_argument("text", help="the sentence (or date) to translate")
    parser.add_argument("--beam", type=int, help="beam width (1 = greedy; default: the run's)")
    parser.add_argument(
        "--plot", metavar="FILE",
        help="save the alignment heatmap (PNG); a Transformer's: every layer's and head's maps",
    )  # fmt: skip
    parser.add_argument(
        "--model", help="which of the run's models: additive, none ... (default: attention)"
    )
    parser.add_argument(
        "--allow-unknown",
        action="store_true",
        help="read words the model never saw as <unk> instead of refusing them",
    )


def translate_command(tokenize, detokenize) -> Command:
    """``seqlab translate`` for the run folders of a corpus read by ``tokenize`` (the options
    are every translation experiment's, the handler this corpus's)."""

    def handler(run: Run, args, out) -> int:
        result = translate(
            run,
            args.text,
            tokenize,
            detokenize,
            beam=args.beam,
            plot=args.plot,
            kind=args.model,
            allow_unknown=args.allow_unknown,
        )
        out.text(result["translation"] + "\n")
        how = "greedy" if result["beam"] == 1 else f"beam {result['beam']}"
        ended = "" if result["finished"] else ", cut at the length limit"
        notes = [f"{result['label']} model, {how}, log p = {result['log_prob']:.3f}{ended}"]
        if result["unknown"]:
            notes.append(f"read as <unk>: {' '.join(result['unknown'])}")
        if "plot" in result:
            notes.append(f"alignment saved to {result['plot']}")
        out.note("  (" + "; ".join(notes) + ")")
        return 0

    return Command("translate", "translate a sentence with a trained run", translate_arguments,
                   handler)  # fmt: skip
