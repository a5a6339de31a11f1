"""``delay``: the LSTM learns ``y_t = x_{t-k}`` with 10 hidden units where the vanilla RNN fails.

Inputs are random bits in {-1, +1}; the target of frame t is the input k frames earlier (frames
t < k are unscored). Every model has the same hidden size, optimiser, budget and seeds; the loss
is the mean squared error, and a delay counts as **solved** when the validation error is below
``solved_nmse`` (0.01) of the target variance (1): a stricter test than > 99% sign accuracy,
which is reported beside it.

Models: ``lstm``, ``gru``, ``rnn-sigmoid`` (the lecture's vanilla RNN, ``z_t = σ(W x_t + U
z_{t-1} + b)``) and ``rnn-tanh``. After training, each model of the first seed at the headline
delay runs once more through the hand-derived backward with the error at the last frame only,
to show how much of it reaches earlier frames (``‖∂E/∂A_{z_t}‖``, and for the LSTM ``‖∂E/∂c_t‖``
and the cell path ``∏ f``).
"""

import math
import statistics
from dataclasses import dataclass, field

import torch

from ..analysis import record_gradient_flow
from ..analysis.cell_path import cell_path_product, forget_gates
from ..config import check, parse_list
from ..data import synthetic
from ..models.tagger import SequenceTagger
from ..report.summary import Headline
from ..train import TrainConfig
from ..train.metrics import read_metrics
from ..viz import delay as plots
from . import sweep
from .registry import Experiment, register
from .rundir import Run
from .tagging import TaggingTask

MODELS = {  # name -> (cell, nonlinearity)
    "lstm": ("lstm", "tanh"),
    "gru": ("gru", "tanh"),
    "rnn-sigmoid": ("rnn", "sigmoid"),
    "rnn-tanh": ("rnn", "tanh"),
}


@dataclass(frozen=True)
class DelayConfig:
    models: str = "lstm,gru,rnn-sigmoid,rnn-tanh"
    hidden_size: int = 10
    delay: int = 10  # the headline delay: every model, `seeds` seeds
    seeds: int = 5
    sweep_delays: str = "2,5,20,40"  # more delays, `sweep_seeds` seeds each
    sweep_seeds: int = 2
    extra_length: int = 40  # sequence length = delay + extra_length (scored frames)
    batch_size: int = 32
    valid_size: int = 512
    solved_nmse: float = 0.01
    backend: str = "auto"  # for training; the error-flow analysis always runs the seqlab path
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=1e-2,
            max_steps=3000,
            eval_every=250,
            checkpoint_every=500,
            log_every=50,
        )
    )
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        parse_list(self.models, "models", allowed=MODELS)
        for d in (self.delay, *parse_list(self.sweep_delays, "sweep_delays", int)):
            check(d >= 1, "delay/sweep_delays", d, "delays >= 1")
        for name in ("hidden_size", "seeds", "extra_length", "batch_size", "valid_size"):
            check(getattr(self, name) >= 1, name, getattr(self, name), "an integer >= 1")
        check(self.sweep_seeds >= 0, "sweep_seeds", self.sweep_seeds, "an integer >= 0")
        check(self.backend in ("auto", "seqlab"), "backend", self.backend, "auto or seqlab")
        check(self.solved_nmse > 0, "solved_nmse", self.solved_nmse, "a positive number")


def build(cfg: DelayConfig, name: str, backend: str | None = None) -> SequenceTagger:
    cell, phi = MODELS[name]
    return SequenceTagger(cell, 1, cfg.hidden_size, 1, phi, backend or cfg.backend)


def make_task(cfg: DelayConfig, lag: int, seed: int) -> TaggingTask:
    length = lag + cfg.extra_length

    def make(batch, gen):
        return synthetic.delay(batch, length, lag, gen)

    return TaggingTask(make, "mse", cfg.batch_size, seed, cfg.valid_size)


def jobs(cfg: DelayConfig) -> list[tuple[str, int, int]]:
    """(model, delay, seed) in training order: the headline delay first."""
    models = parse_list(cfg.models, "models", allowed=MODELS)
    out = [(m, cfg.delay, cfg.seed + s) for s in range(cfg.seeds) for m in models]
    for d in parse_list(cfg.sweep_delays, "sweep_delays", int):
        if d != cfg.delay:
            out += [(m, d, cfg.seed + s) for s in range(cfg.sweep_seeds) for m in models]
    return out


def error_flow(cfg: DelayConfig, name: str, trained: SequenceTagger) -> dict:
    """Per-frame gradient norms of the error at the last frame only, through the hand-derived
    backward (a seqlab-path copy of the trained weights), on fresh test sequences."""
    model = build(cfg, name, backend="seqlab")
    model.load_state_dict(trained.state_dict())
    x, y, _ = synthetic.delay(
        256, cfg.delay + cfg.extra_length, cfg.delay, synthetic.generator(cfg.seed, synthetic.TEST)
    )
    with record_gradient_flow() as flow:
        out, _ = model(x)
        (out[:, -1] - y[:, -1]).pow(2).mean().backward()  # E: the last frame's error only
    found = {"pre_activation": flow.norms("pre_activation").tolist()}
    if name == "lstm":
        found["cell"] = flow.norms("cell").tolist()
        products = cell_path_product(forget_gates(model.rnn, x))  # (B, T, H)
        found["cell_path"] = products.mean(0).T.tolist()  # (H, T): per unit, batch mean
    return found


def run(cfg: DelayConfig, run: Run, on_event=None):
    todo = jobs(cfg)
    results, flows = [], {}
    for i, (name, lag, seed) in enumerate(todo, 1):
        torch.manual_seed(seed)
        model = build(cfg, name)
        tag = f"{name}-delay{lag}-seed{seed}"
        task = make_task(cfg, lag, seed)
        rec = sweep.fit(run, tag, model, task, cfg.train, sweep.fingerprint("delay", cfg), on_event)
        nmse, acc = rec["valid"]["nmse"], rec["valid"]["sign_accuracy"]
        solved = nmse < cfg.solved_nmse
        results.append(
            {
                "model": name,
                "delay": lag,
                "seed": seed,
                "nmse": nmse,
                "sign_accuracy": acc,
                "solved": solved,
                "steps": rec["steps"],
                "seconds": rec["train_seconds"],
            }
        )
        if on_event:
            width = len(str(len(todo)))
            text = f"[{i:>{width}}/{len(todo)}] {name:<11} delay {lag:>2} seed {seed}"
            on_event(
                "stage",
                {
                    "text": f"{text}: nmse {nmse:.4f} · sign accuracy {acc:.2%}"
                    f"{' · solved' if solved else ''}"
                },
            )
        if lag == cfg.delay and seed == cfg.seed:
            flows[name] = error_flow(cfg, name, model)
    details = summarise(cfg, results)
    details["error_flow"] = flows
    if run.ctx.main:
        curves = {}
        for name, lag, seed in todo:
            if lag == cfg.delay:
                rows = read_metrics(
                    run.dir / "trainings" / f"{name}-delay{lag}-seed{seed}" / "metrics.jsonl"
                )
                points = [(r["step"], r["nmse"]) for r in rows if r["split"] == "valid"]
                curves.setdefault(name, []).append(points)
        run.save_figure(
            plots.headline(curves, results, cfg.delay, cfg.solved_nmse),
            "delay.png",
            f"Validation error (nmse) of every model and seed at delay {cfg.delay}, with the "
            "'solved' threshold.",
        )
        run.save_figure(
            plots.sweep(results, cfg.solved_nmse),
            "sweep.png",
            "Median error over seeds against the delay, per model.",
        )
        run.save_figure(
            plots.error_flow(flows, cfg.delay),
            "error_flow.png",
            "How far the last frame's error travels back through the trained networks "
            "(hand-derived backward).",
        )
    return run.finish(headline(cfg, details), details, report(cfg, run, details),
                      lines=details["claims"])  # fmt: skip


def headline(cfg: DelayConfig, details: dict) -> list[Headline]:
    """Seeds solved at the headline delay, per model; the claims where the lecture makes one."""
    expected = {"lstm": "all", "rnn-sigmoid": "none"}
    out = []
    for m, per in details["by_model"].items():
        if cfg.delay not in per:
            continue
        h = per[cfg.delay]
        claim = expected.get(m)
        passed = None
        if claim == "all":
            passed = h["solved"] == h["seeds"]
        elif claim == "none":
            passed = h["solved"] == 0
        out.append(
            Headline(
                f"{m} solves delay {cfg.delay}",
                f"{h['solved']}/{h['seeds']}",
                "seeds",
                f"the lecture: {claim} seeds" if claim else f"median nmse {h['median_nmse']:.3g}",
                passed,
            )
        )
    return out


def summarise(cfg: DelayConfig, results: list[dict]) -> dict:
    table: dict[str, dict[int, dict]] = {}
    for r in results:
        table.setdefault(r["model"], {}).setdefault(r["delay"], []).append(r)
    by_model = {
        m: {
            d: {
                "seeds": len(rs),
                "solved": sum(r["solved"] for r in rs),
                "median_nmse": statistics.median(r["nmse"] for r in rs),
                "median_sign_accuracy": statistics.median(r["sign_accuracy"] for r in rs),
            }
            for d, rs in sorted(per.items())
        }
        for m, per in table.items()
    }
    claims = []
    head = {m: per[cfg.delay] for m, per in by_model.items() if cfg.delay in per}
    if "lstm" in head:
        h = head["lstm"]
        verdict = "PASS" if h["solved"] == h["seeds"] else "FAIL"
        claims.append(
            f"{verdict}: the LSTM solves delay {cfg.delay} in every seed "
            f"({h['solved']}/{h['seeds']})"
        )
    if "rnn-sigmoid" in head:
        h = head["rnn-sigmoid"]
        verdict = "PASS" if h["solved"] == 0 else "FAIL"
        claims.append(
            f"{verdict}: the lecture's vanilla RNN (σ units) does not solve delay "
            f"{cfg.delay} ({h['solved']}/{h['seeds']} seeds solved)"
        )
    if "rnn-tanh" in head:
        h = head["rnn-tanh"]
        claims.append(
            f"the tanh RNN solves delay {cfg.delay} in {h['solved']}/{h['seeds']} "
            "seeds (tanh' reaches 1 where σ' stops at 1/4)"
        )
    if "gru" in head:
        claims.append(
            f"the GRU solves delay {cfg.delay} in {head['gru']['solved']}/"
            f"{head['gru']['seeds']} seeds"
        )
    seconds = sum(r["seconds"] for r in results)
    claims.append(f"{len(results)} trainings, {seconds / 60:.1f} minutes of training")
    return {
        "results": results,
        "by_model": by_model,
        "claims": claims,
        "train_seconds": round(seconds, 1),
    }


def report(cfg: DelayConfig, run: Run, s: dict) -> str:
    t = cfg.train
    lines = [
        f"# delay — y_t = x_(t-k) with {cfg.hidden_size} hidden units",
        "",
        f"Preset `{run.preset}`. Inputs: random bits in {{-1, +1}}, sequences of k + "
        f"{cfg.extra_length} frames, the first k unscored. Every model: {cfg.hidden_size} hidden "
        f"units, a linear read-out, mean squared error, {t.optimizer} lr {t.lr:g} ({t.schedule}),"
        f" clipping at {t.clip_norm:g}, batch {cfg.batch_size}, {t.max_steps} steps; validation "
        f"on {cfg.valid_size} fresh sequences. **Solved** means validation MSE below "
        f"{cfg.solved_nmse:g} of the target variance (nmse); sign accuracy is shown beside it.",
        "",
        "## Claims",
        "",
        *(f"- {c}" for c in s["claims"]),
        "",
        f"## Delay {cfg.delay}, {cfg.seeds} seeds",
        "",
        "| model | solved | median nmse | median sign accuracy |",
        "|---|---|---|---|",
    ]
    for m, per in s["by_model"].items():
        if cfg.delay in per:
            h = per[cfg.delay]
            lines.append(
                f"| {m} | {h['solved']}/{h['seeds']} | {h['median_nmse']:.4f} | "
                f"{h['median_sign_accuracy']:.2%} |"
            )
    lines += ["", "![delay](figures/delay.png)", "", "## Error against delay", ""]
    delays = sorted({d for per in s["by_model"].values() for d in per})
    lines.append("| model | " + " | ".join(f"k={d}" for d in delays) + " |")
    lines.append("|---|" + "---|" * len(delays))
    for m, per in s["by_model"].items():
        cells = [
            f"{per[d]['median_nmse']:.3f} ({per[d]['solved']}/{per[d]['seeds']})"
            if d in per
            else ""
            for d in delays
        ]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Median nmse over seeds (seeds solved). With 10 units, a delay of k needs the network to"
        " hold the last k bits at once; past k = 10 that is more bits than units.",
        "",
        "![sweep](figures/sweep.png)",
        "",
        "## How far the error travels back",
        "",
        f"Seed {cfg.seed}'s trained models at delay {cfg.delay}, with the error at the last frame"
        " only, through the hand-derived backward: the gradient norm at each earlier frame,"
        " relative to the last frame's. The LSTM's cell path multiplies the error by the forget"
        " gates alone (∏ f, right); the vanilla RNN's by φ'(A)·U at every step.",
        "",
        "![error flow](figures/error_flow.png)",
    ]
    flow = s["error_flow"]
    if flow:
        lines += [
            "",
            f"| model | relative norm {cfg.delay} frames back | 20 frames back |",
            "|---|---|---|",
        ]
        for m, f in flow.items():
            for key in ("pre_activation", "cell"):
                if key in f:
                    norms = f[key]
                    rel = [
                        norms[-1 - k] / norms[-1] if norms[-1] else math.nan
                        for k in (cfg.delay, min(20, len(norms) - 1))
                    ]
                    label = f"{m} ‖∂E/∂c_t‖" if key == "cell" else f"{m} ‖∂E/∂A_t‖"
                    lines.append(f"| {label} | {rel[0]:.2e} | {rel[1]:.2e} |")
    return "\n".join(lines) + "\n"


PRESETS = {
    "quick": DelayConfig(
        delay=4,
        seeds=2,
        sweep_delays="2",
        sweep_seeds=1,
        extra_length=12,
        valid_size=128,
        train=TrainConfig(
            lr=2e-2, max_steps=300, eval_every=100, checkpoint_every=100, log_every=50
        ),
    ),
    "default": DelayConfig(),
}

register(
    Experiment(
        name="delay",
        summary="LSTM vs vanilla RNN and GRU on y_t = x_(t-k) with 10 units; error vs delay",
        presets=PRESETS,
        run=run,
        one_thread=True,
        preset_notes={
            "quick": "delay 4 and 2, seconds",
            "default": "delay 10 x 5 seeds (~3 minutes), then delays 2-40 x 2 seeds (~4 more)",
        },
    )
)
