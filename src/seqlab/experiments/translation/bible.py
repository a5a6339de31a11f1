"""``translate-bible``: English -> Spanish, verse by verse, from two public-domain Bibles that
Debian packages (the World English Bible and the Reina-Valera 1909, read with ``diatheke``).

Word level: lowercase words and punctuation marks (:func:`~seqlab.data.vocab.word_tokens`),
the most frequent words of the training verses as each side's vocabulary, the rest ``<unk>``.
Whole books are held out for validation and test, so no test verse has a near-copy in
training from the same chapter. Training pairs are verses of at most ``max_words`` tokens on
both sides; test verses run up to ``test_max_words`` source tokens, so the BLEU-against-length
figure (Bahdanau et al. 2015, fig. 2) reaches past the lengths seen in training.
"""

import random
from dataclasses import dataclass, field, replace

import torch
from sacrebleu.metrics import BLEU

from ...config import check, parse_list
from ...data import bible
from ...data.synthetic import generator
from ...data.vocab import TokenVocab, detokenize, word_tokens
from ...models.seq2seq import Seq2SeqConfig
from ...models.transformer import TransformerConfig
from ...report.summary import Headline
from ...train import TrainConfig
from ...viz.alignment import alignment_grid, score_by_length
from ..registry import Experiment, register
from ..rundir import Run
from .bible_report import bible_lines, bible_report
from .heads import save_head_maps
from .pipeline import Corpus, alignment_of, fit_and_decode, translate_command
from .report import curves_figure
from .task import DecodeConfig, model_kinds

POOL = 32  # batches drawn, sorted by length and cut together (less padding)


@dataclass(frozen=True)
class BibleDataConfig:
    max_words: int = 30  # training verses: at most this many tokens in each language
    test_max_words: int = 60  # test verses: at most this many English tokens
    vocab_size: int = 8000  # words kept per language (the rest read as <unk>)
    valid_books: str = "Ruth,Jonah"
    test_books: str = "Esther,Acts,Philippians,James"
    test_size: int = 0  # test verses to decode (0 = all of the test books)

    def __post_init__(self):
        check(self.max_words >= 2, "data.max_words", self.max_words, "an integer >= 2")
        check(
            self.test_max_words >= 2, "data.test_max_words", self.test_max_words, "an integer >= 2"
        )
        check(self.vocab_size >= 10, "data.vocab_size", self.vocab_size, "an integer >= 10")
        check(self.test_size >= 0, "data.test_size", self.test_size, ">= 0 (0 = all)")
        books = set(bible.BOOKS)
        for name in ("valid_books", "test_books"):
            parse_list(getattr(self, name), f"data.{name}", allowed=books)
        overlap = set(parse_list(self.valid_books, "data.valid_books")) & set(
            parse_list(self.test_books, "data.test_books")
        )
        check(not overlap, "data.test_books", self.test_books, "no book also in data.valid_books")


@dataclass(frozen=True)
class TranslateBibleConfig:
    data: BibleDataConfig = field(default_factory=BibleDataConfig)
    rnn: Seq2SeqConfig = field(
        default_factory=lambda: Seq2SeqConfig(
            embedding_size=128, hidden_size=128, attention_size=128, readout_size=256
        )
    )
    transformer: TransformerConfig = field(
        default_factory=lambda: TransformerConfig(
            d_model=128,
            heads=4,
            ff_size=512,
            label_smoothing=0.1,
            schedule="noam",
            warmup_steps=400,
            lr=1e-3,
            beta2=0.98,
        )
    )
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=2e-3, max_steps=2000, eval_every=250, checkpoint_every=250, min_lr_ratio=0.05
        )
    )
    decode: DecodeConfig = field(
        default_factory=lambda: DecodeConfig(
            beam=5, length_penalty=1.0, max_length_ratio=2.0, max_length_extra=10, batch_size=64
        )
    )
    models: str = "additive,none"
    batch_size: int = 64
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        model_kinds(self)
        check(self.batch_size >= 1, "batch_size", self.batch_size, "an integer >= 1")

    @property
    def kinds(self) -> tuple[str, ...]:
        return model_kinds(self)


def split_verses(verses, cfg: BibleDataConfig):
    """(train, valid, test) as lists of (verse, English tokens, Spanish tokens): whole books
    held out, lengths filtered (see the module). Each verse is tokenised once, here."""
    valid_books = set(parse_list(cfg.valid_books, "data.valid_books"))
    test_books = set(parse_list(cfg.test_books, "data.test_books"))
    train, valid, test = [], [], []
    for v in verses:
        en, es = word_tokens(v.english), word_tokens(v.spanish)
        if v.book in test_books:
            if len(en) <= cfg.test_max_words:
                test.append((v, en, es))
        elif len(en) <= cfg.max_words and len(es) <= cfg.max_words:
            (valid if v.book in valid_books else train).append((v, en, es))
    if cfg.test_size and len(test) > cfg.test_size:
        test = random.Random(0).sample(test, cfg.test_size)
    return train, valid, test


def build_corpus(cfg: TranslateBibleConfig) -> Corpus:
    train, valid, test = split_verses(bible.load_bible(), cfg.data)
    source_vocab = TokenVocab.build((en for _, en, _ in train), max_size=cfg.data.vocab_size)
    target_vocab = TokenVocab.build((es for _, _, es in train), max_size=cfg.data.vocab_size)

    def ids(rows):
        return (
            [source_vocab.encode(en, unknown="unk") for _, en, _ in rows],
            [target_vocab.encode(es, unknown="unk") for _, _, es in rows],
        )

    src, tgt = ids(train)
    B = cfg.batch_size

    def draw(step: int):
        # POOL batches' worth of random verses, sorted by length, cut into POOL batches:
        # step k takes batch k % POOL of pool k // POOL (a pure function of the step).
        g = generator(cfg.seed, step // POOL)
        pool = torch.randint(len(src), (B * POOL,), generator=g).tolist()
        pool.sort(key=lambda i: len(src[i]))
        rows = pool[(step % POOL) * B : (step % POOL + 1) * B]
        return [src[i] for i in rows], [tgt[i] for i in rows]

    return Corpus(
        source_vocab,
        target_vocab,
        detokenize=detokenize,
        draw=draw,
        valid=ids(valid),
        test_sources=ids(test)[0],
        # the reference as the model could write it: lowercased, quotes normalised, punctuation
        # spaced the same way (BLEU then scores words, not typography)
        test_references=[detokenize(es) for _, _, es in test],
        extra={
            "test": [v for v, _, _ in test],
            "sizes": {"train": len(train), "valid": len(valid), "test": len(test)},
        },
    )


def bleu(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU with sacreBLEU's defaults (13a tokenisation, exponential smoothing)."""
    return BLEU().corpus_score(hypotheses, [references]).score


def bleu_signature() -> str:
    """sacreBLEU's signature of :func:`bleu` (it is known once a score has been computed)."""
    metric = BLEU()
    metric.corpus_score(["a"], [["a"]])
    return str(metric.get_signature())


def split_by_length(sources, longest: int) -> dict[str, list[int]]:
    """Test verses ``within`` the training lengths (≤ ``longest`` tokens) and ``beyond``."""
    rows = {"within": [], "beyond": []}
    for i, s in enumerate(sources):
        rows["within" if len(s) <= longest else "beyond"].append(i)
    return rows


def bleu_by_length(sources, hypotheses, references, width: int = 10):
    """[(bucket middle, corpus BLEU, verses)] over source-length buckets of ``width`` tokens."""
    groups: dict[int, list[int]] = {}
    for i, s in enumerate(sources):
        groups.setdefault((len(s) - 1) // width, []).append(i)
    return [
        (
            k * width + width / 2,
            bleu([hypotheses[i] for i in rows], [references[i] for i in rows]),
            len(rows),
        )
        for k, rows in sorted(groups.items())
    ]


def run(cfg: TranslateBibleConfig, run: Run, on_event=None):
    if on_event:
        on_event("stage", {"text": "reading the Bibles (built once with diatheke, then cached)"})
    corpus = build_corpus(cfg)
    trained = fit_and_decode(run, "translate-bible", corpus, cfg, on_event)
    tv, refs, test = corpus.target_vocab, corpus.test_references, corpus.extra["test"]
    results = {
        t.kind: {
            "label": t.label,
            "attends": t.attends,
            "bleu_greedy": bleu(t.greedy_text, refs),
            "bleu_beam": bleu(t.beam_text, refs),
            "valid": t.record["valid"],
            "steps": t.record["steps"],
            "train_seconds": t.record["train_seconds"],
            "by_length": bleu_by_length(corpus.test_sources, t.beam_text, refs),
            **{
                f"bleu_{part}": (
                    bleu([t.beam_text[i] for i in rows], [refs[i] for i in rows]) if rows else None
                )
                for part, rows in split_by_length(corpus.test_sources, cfg.data.max_words).items()
            },
        }
        for t in trained
    }
    outputs = {t.kind: t.beam_text for t in trained}
    shown = sorted(range(len(test)), key=lambda i: abs(len(corpus.test_sources[i]) - 14))[:6]
    details = {
        "sizes": corpus.extra["sizes"],
        "vocab": {"source": len(corpus.source_vocab), "target": len(tv)},
        "beam": cfg.decode.beam,
        "signature": bleu_signature(),
        "results": results,
        "examples": [
            {
                "ref": f"{test[i].book} {test[i].chapter}:{test[i].verse}",
                "english": test[i].english,
                "spanish": test[i].spanish,
                **{kind: outputs[kind][i] for kind in outputs},
            }
            for i in shown[:4]
        ],
    }
    attention = next((t for t in trained if t.attends), None)
    if attention is not None and run.ctx.main:
        grid = [
            alignment_of(
                word_tokens(test[i].english),
                tv,
                attention.beam[i],
                f"{test[i].book} {test[i].chapter}:{test[i].verse}",
            )
            for i in shown[:4]
        ]
        title = f"{attention.label}: α_ij on held-out verses (beam {cfg.decode.beam})"
        run.save_figure(
            alignment_grid(grid, cols=2, title=title),
            "alignments.png",
            "α_ij on held-out verses: English tokens along x, the Spanish the attention model "
            "wrote (beam search) along y.",
        )
    details["head_maps"] = save_head_maps(
        run, trained, corpus.test_sources[shown[0]], word_tokens(test[shown[0]].english),
        shown[0], "verse", test[shown[0]].english,
    )  # fmt: skip
    if run.ctx.main:
        run.save_figure(
            score_by_length(
                {r["label"]: r["by_length"] for r in results.values()},
                "source verse length (English tokens, buckets of 10)",
                f"BLEU (beam {cfg.decode.beam})",
                "BLEU on held-out books against verse length",
                trained_up_to=cfg.data.max_words,
            ),
            "bleu_by_length.png",
            "BLEU (beam search) on the held-out books against the English verse's length; "
            "lengths past the dashed line never occur in training.",
        )
        run.save_figure(
            curves_figure(run, trained),
            "training.png",
            "Validation loss against training step, one line per model.",
        )
    return run.finish(
        headline(details),
        details,
        bible_report(cfg, run, details),
        lines=bible_lines(details),
        hints=[
            f'translate one: seqlab translate {run.dir} "In the beginning was the Word." '
            "--plot a.png"
        ],
    )


def headline(details: dict) -> list[Headline]:
    """BLEU of each model (beam, with greedy beside it), and beyond the training lengths."""
    results, beam = details["results"], details["beam"]
    out = [
        Headline(
            f"BLEU, {r['label']} (beam {beam})",
            round(r["bleu_beam"], 2),
            "BLEU",
            f"greedy {r['bleu_greedy']:.2f}",
        )
        for r in results.values()
    ]
    return out + [
        Headline(
            f"BLEU beyond the training lengths, {r['label']}",
            None if r["bleu_beyond"] is None else round(r["bleu_beyond"], 2),
            "BLEU",
            "within: —" if r["bleu_within"] is None else f"within: {r['bleu_within']:.2f}",
        )
        for r in results.values()
    ]


TRANSLATE = translate_command(word_tokens, detokenize)


PRESETS = {
    "quick": replace(
        TranslateBibleConfig(),
        data=BibleDataConfig(max_words=12, test_max_words=20, vocab_size=500, test_size=40),
        rnn=Seq2SeqConfig(embedding_size=16, hidden_size=16, attention_size=16, readout_size=32),
        transformer=TransformerConfig(
            d_model=16, heads=2, encoder_layers=1, decoder_layers=1, ff_size=32, dropout=0.0
        ),
        models="additive,none,transformer",
        train=TrainConfig(lr=1e-2, max_steps=30, eval_every=15, checkpoint_every=15),
        decode=DecodeConfig(beam=3, max_length_ratio=1.5, max_length_extra=5, batch_size=40),
        batch_size=16,
    ),
    "default": TranslateBibleConfig(),
}

register(
    Experiment(
        name="translate-bible",
        summary="English -> Spanish Bible verses (Debian diatheke), attention vs fixed context",
        presets=PRESETS,
        run=run,
        commands=(TRANSLATE,),
        preset_notes={
            "quick": "tiny models, 30 steps each: a smoke test (needs diatheke)",
            "default": "attention and fixed-context GRUs, 2,000 steps each, about 30 minutes",
        },
    )
)
