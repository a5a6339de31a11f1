"""``vanishing``: the lecture's demonstration of vanishing gradients on ``y_t = x_{t-2}``.

A vanilla RNN with tanh units whose active weights (every entry of W, U and V) start at 1 and
biases at 0, trained by plain gradient descent with learning rate 0.1 on the mean squared error
of ``y_t = x_{t-2}`` (random bits in {-1, +1}). Every ``train.eval_every`` steps a probe runs
the hand-derived backward with the error of the **last frame only** and records
``‖∂E/∂A_{z_t}‖`` at every frame (the engine's gradient-flow recorder): how much of an error
reaches the frames before it. The numbers land in the training's ``metrics.jsonl`` (metrics
``back_0`` … ``back_{T-1}``, frames back from the error), so they survive a resume.

With U full of ones, ``A_{z_t}`` sums every unit's state, tanh saturates, and each step back
multiplies the error by ``φ'(A) U`` with ``φ' = 1 - z² ≈ 0``: the error is gone within a few
frames, including the two frames the task needs.
"""

import math
from dataclasses import dataclass, field, replace

import torch

from ..analysis import record_gradient_flow
from ..config import check
from ..data import synthetic
from ..models.tagger import SequenceTagger
from ..report.summary import Headline
from ..train import Context, TrainConfig
from ..train.metrics import read_metrics
from ..viz import vanishing as plots
from . import sweep
from .registry import Experiment, register
from .rundir import Run
from .tagging import TaggingTask


@dataclass(frozen=True)
class VanishingConfig:
    hidden_size: int = 4
    lag: int = 2
    length: int = 20
    init_weight: float = 1.0  # every active weight's start (the "ones" training)
    batch_size: int = 32
    probe_size: int = 256
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            optimizer="sgd",
            lr=0.1,
            schedule="constant",
            clip_norm=0.0,
            max_steps=1000,
            eval_every=20,
            checkpoint_every=200,
            log_every=20,
        )
    )
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        for name in ("hidden_size", "lag", "batch_size", "probe_size"):
            check(getattr(self, name) >= 1, name, getattr(self, name), "an integer >= 1")
        check(self.length > self.lag, "length", self.length, f"more than lag={self.lag}")


def build(cfg: VanishingConfig, init_weight: float) -> SequenceTagger:
    """The network with every weight at ``init_weight`` and biases at 0 (0: torch's init)."""
    torch.manual_seed(cfg.seed)
    model = SequenceTagger("rnn", 1, cfg.hidden_size, 1, "tanh", backend="seqlab")
    if init_weight:
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.fill_(init_weight if "weight" in name else 0.0)
    return model


def probe(model, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """‖∂E/∂A_{z_t}‖ by frames back from the last frame (index 0 = the last frame), with
    E = the last frame's squared error, through the hand-derived backward."""
    with torch.enable_grad(), record_gradient_flow() as flow:
        out, _ = model(x)
        (out[:, -1] - y[:, -1]).pow(2).mean().backward()
    model.zero_grad(set_to_none=True)
    return flow.norms("pre_activation").flip(0).tolist()


class ProbedTask(TaggingTask):
    """The delay task, whose validation also records the per-frame gradient norms."""

    def __init__(self, cfg: VanishingConfig):
        def make(batch, gen):
            return synthetic.delay(batch, cfg.length, cfg.lag, gen)

        super().__init__(make, "mse", cfg.batch_size, cfg.seed, cfg.probe_size)

    def evaluate(self, model, ctx: Context) -> dict[str, tuple[float, float]]:
        metrics = super().evaluate(model, ctx)
        x, y, _ = (t.to(ctx.device) for t in self.valid)
        for k, norm in enumerate(probe(model, x, y)):
            metrics[f"back_{k}"] = (norm, 1)
        return metrics


INITS = {"ones": "every active weight at init_weight (the lecture)", "random": "torch's random"}


def _train(cfg: VanishingConfig, run: Run, init: str, on_event) -> dict:
    """One training from ``init``; its gradient-norm and error history, start included."""
    task = ProbedTask(cfg)
    model = build(cfg, init_weight=cfg.init_weight if init == "ones" else 0.0)
    # Step 0 from the seeded model (so a resume recomputes it): the same probe as later steps.
    model.to(run.ctx.device)
    with torch.no_grad():
        start = task.evaluate(model, run.ctx)
    initial = [start[f"back_{k}"][0] for k in range(cfg.length)]
    total, frames = start["nmse"]
    fingerprint = sweep.fingerprint("vanishing", cfg)
    rec = sweep.fit(run, init, model, task, cfg.train, fingerprint, on_event)
    path = run.dir / "trainings" / init / "metrics.jsonl"
    valid = [r for r in read_metrics(path) if r["split"] == "valid"] if run.ctx.main else []
    norms = [initial] + [[r[f"back_{k}"] for k in range(cfg.length)] for r in valid]

    def reach(ns, k):  # share of the last frame's gradient left k frames back
        return ns[k] / ns[0] if ns[0] > 0 else math.nan

    ks = [k for k in (1, cfg.lag, 5, 10) if k < cfg.length]
    return {
        "steps": rec["steps"],
        "final_nmse": rec["valid"]["nmse"],
        "final_sign_accuracy": rec["valid"]["sign_accuracy"],
        "initial_nmse": total / frames,
        "reach_initial": {k: reach(initial, k) for k in ks},
        "reach_final": {k: reach(norms[-1], k) for k in ks},
        "history": {
            "steps": [0] + [r["step"] for r in valid],
            "norms": norms,
            "nmse": [total / frames] + [r["nmse"] for r in valid],
        },
    }


def run(cfg: VanishingConfig, run: Run, on_event=None):
    trainings = {init: _train(cfg, run, init, on_event) for init in INITS}
    claims, headline = [], []
    for init, t in trainings.items():
        r0, r1 = t["reach_initial"][cfg.lag], t["reach_final"][cfg.lag]
        learned = "learned" if t["final_nmse"] < 0.1 else "not learned"
        claims.append(
            f"{init} init: {r0:.1e} of the last frame's error gradient reaches {cfg.lag} frames "
            f"back at the start, {r1:.1e} after {t['steps']} steps; validation MSE/variance "
            f"{t['initial_nmse']:.3f} -> {t['final_nmse']:.3f} ({learned})"
        )
        headline.append(
            Headline(
                f"{init} init: share of the last frame's gradient {cfg.lag} frames back",
                float(f"{r0:.3g}"),
                "",
                f"{r1:.3g} after {t['steps']} steps"
                + (" (the lecture: it vanishes)" if init == "ones" else ""),
            )
        )
        headline.append(
            Headline(
                f"{init} init: validation MSE / variance after training",
                round(t["final_nmse"], 4),
                "",
                f"{t['initial_nmse']:.3f} at the start; < 0.1 counts as learned",
            )
        )
    details = {"trainings": trainings, "claims": claims}
    if run.ctx.main:
        run.save_figure(
            plots.gradient_history({i: t["history"] for i, t in trainings.items()}, cfg.lag),
            "gradients.png",
            "Per-frame gradient norms of the last frame's error, during training, for each "
            "initialisation.",
        )
    return run.finish(headline, details, report(cfg, run, details), lines=claims)


def report(cfg: VanishingConfig, run: Run, s: dict) -> str:
    t = cfg.train
    rows = "\n".join(
        f"| {init} | {k} | {tr['reach_initial'][k]:.2e} | {tr['reach_final'][k]:.2e} |"
        for init, tr in s["trainings"].items()
        for k in tr["reach_initial"]
    )
    claims = "\n".join(f"- {c}" for c in s["claims"])
    return f"""# vanishing — y_t = x_(t-{cfg.lag}) with tanh units

Preset `{run.preset}`. {cfg.hidden_size} tanh units and a linear read-out, trained twice: from
the lecture's start (every active weight of W, U and V at {cfg.init_weight:g}, biases 0: "ones")
and, for contrast, from torch's random initialisation ("random"). {t.optimizer} with learning
rate {t.lr:g} ({t.schedule}), no clipping, {t.max_steps} steps of batch {cfg.batch_size};
sequences of {cfg.length} random bits in {{-1, +1}}. Every {t.eval_every} steps the error of the
last frame alone is sent back through the hand-derived BPTT and ‖∂E/∂A_z‖ is recorded at every
frame.

## Result

{claims}

| init | frames back | share of the last frame's gradient, start | after training |
|---|---|---|---|
{rows}

![gradients](figures/gradients.png)

With U all ones, every unit receives the sum of all states, tanh saturates, and the factor
1 − z² passes almost nothing back. All units also start identical and gradient descent keeps
them identical, so the "ones" network stays a single unit in disguise. (Float32 underflows
below about 1e-38; such shares are drawn at the plot's floor.)
"""


PRESETS = {
    "quick": VanishingConfig(
        train=replace(VanishingConfig().train, max_steps=100, checkpoint_every=50),
    ),
    "default": VanishingConfig(),
}

register(
    Experiment(
        name="vanishing",
        summary="the lecture's vanishing-gradient demo: y_t = x_(t-2), tanh, weights at 1, lr 0.1",
        presets=PRESETS,
        run=run,
        one_thread=True,
        preset_notes={"quick": "100 steps, seconds", "default": "1,000 steps, under a minute"},
    )
)
