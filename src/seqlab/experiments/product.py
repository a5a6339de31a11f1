"""``product``: a vanilla RNN with two sigmoid hidden units learns ``y_t = x_{t-1} · x_t``.

The lecture's network, exactly::

    z_t = σ(W x_t + U z_{t-1} + b_x)        W (2, 1), U (2, 2), b_x (2,), z_0 = 0
    o_t = σ(V z_t + b_y)                    V (1, 2), b_y (1,)

on random bits ``x_t ∈ {0, 1}``; the target is 1 only when this bit and the last are both 1
(frame 0 has no last bit and is unscored). Trained with binary cross-entropy; a seed **solves**
the task when every frame of every binary sequence of length ``exhaustive_length`` (all 2^L of
them) and of the validation set is right (o_t > 0.5 exactly when y_t = 1).

The lecture shows one solution (``LECTURE``); it is run as given, with U applied as ``U z`` and
as ``Uᵀ z``, and the report says what it computes: for each pair (x_{t-1}, x_t), how often it
outputs 1 over all histories, and the Boolean function of two bits it agrees with most.
"""

import itertools
from dataclasses import dataclass, field

import torch

from ..config import check
from ..data import synthetic
from ..models.tagger import SequenceTagger
from ..report.summary import Headline
from ..train import TrainConfig
from ..viz import product as plots
from . import sweep
from .registry import Experiment, register
from .rundir import Run
from .tagging import TaggingTask

LECTURE = {
    "W": [[-2.21], [-2.29]],
    "U": [[0.53, 1.97], [0.06, 1.61]],
    "b_x": [2.32, -0.83],
    "V": [[-3.42, 3.28]],
    "b_y": [2.16],
}
PAIRS = ((0, 0), (0, 1), (1, 0), (1, 1))  # (x_{t-1}, x_t)
# The 16 Boolean functions of (x_{t-1}, x_t), by their outputs on PAIRS.
NAMES = {
    (0, 0, 0, 0): "always 0",
    (0, 0, 0, 1): "x_{t-1} AND x_t (the product)",
    (0, 0, 1, 0): "x_{t-1} AND NOT x_t",
    (0, 0, 1, 1): "x_{t-1}",
    (0, 1, 0, 0): "NOT x_{t-1} AND x_t",
    (0, 1, 0, 1): "x_t",
    (0, 1, 1, 0): "x_{t-1} XOR x_t",
    (0, 1, 1, 1): "x_{t-1} OR x_t",
    (1, 0, 0, 0): "NOR",
    (1, 0, 0, 1): "XNOR (equal bits)",
    (1, 0, 1, 0): "NOT x_t",
    (1, 0, 1, 1): "x_{t-1} OR NOT x_t",
    (1, 1, 0, 0): "NOT x_{t-1}",
    (1, 1, 0, 1): "NOT x_{t-1} OR x_t",
    (1, 1, 1, 0): "NAND",
    (1, 1, 1, 1): "always 1",
}


@dataclass(frozen=True)
class ProductConfig:
    seeds: int = 10
    hidden_size: int = 2
    length: int = 20
    batch_size: int = 32
    valid_size: int = 512
    exhaustive_length: int = 10
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=0.05, max_steps=1500, eval_every=250, checkpoint_every=500, log_every=50
        )
    )
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        for name in ("seeds", "hidden_size", "batch_size", "valid_size"):
            check(getattr(self, name) >= 1, name, getattr(self, name), "an integer >= 1")
        check(self.length >= 2, "length", self.length, "an integer >= 2")
        check(
            2 <= self.exhaustive_length <= 16,
            "exhaustive_length",
            self.exhaustive_length,
            "an integer in [2, 16] (2^L sequences)",
        )


def build(hidden_size: int) -> SequenceTagger:
    return SequenceTagger("rnn", 1, hidden_size, 1, nonlinearity="sigmoid", backend="seqlab")


def lecture_model(transpose: bool = False) -> SequenceTagger:
    """The lecture's weights in the network (``transpose``: U applied as ``Uᵀ z``)."""
    model = build(2)
    U = torch.tensor(LECTURE["U"])
    with torch.no_grad():
        model.rnn.weight_ih_l0.copy_(torch.tensor(LECTURE["W"]))
        model.rnn.weight_hh_l0.copy_(U.T if transpose else U)
        model.rnn.bias_ih_l0.copy_(torch.tensor(LECTURE["b_x"]))
        model.rnn.bias_hh_l0.zero_()
        model.readout.weight.copy_(torch.tensor(LECTURE["V"]))
        model.readout.bias.copy_(torch.tensor(LECTURE["b_y"]))
    return model


def weights(model: SequenceTagger) -> dict:
    """The lecture's symbols of a trained network (b_x = bias_ih + bias_hh)."""
    r = model.rnn
    return {
        "W": r.weight_ih_l0.tolist(),
        "U": r.weight_hh_l0.tolist(),
        "b_x": (r.bias_ih_l0 + r.bias_hh_l0).tolist(),
        "V": model.readout.weight.tolist(),
        "b_y": model.readout.bias.tolist(),
    }


def all_sequences(length: int) -> torch.Tensor:
    """Every binary sequence of ``length``: (2^L, L, 1)."""
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=length))).unsqueeze(-1)


@torch.no_grad()
def truth_table(model: SequenceTagger, length: int) -> dict:
    """Over every binary sequence of ``length``: frame accuracy on the product task, and for
    each pair (x_{t-1}, x_t) the fraction of frames t >= 1 where the network outputs 1."""
    x = all_sequences(length)  # (N, L, 1)
    out, _ = model(x)
    says = (out[..., 0] > 0).float()  # (N, L): o_t > 0.5
    prev, cur = x[:, :-1, 0], x[:, 1:, 0]
    target = prev * cur
    ones = {f"{a}{b}": float(says[:, 1:][(prev == a) & (cur == b)].mean()) for a, b in PAIRS}
    function = tuple(int(ones[f"{a}{b}"] > 0.5) for a, b in PAIRS)
    return {
        "accuracy": float((says[:, 1:] == target).float().mean()),
        "outputs_one": ones,  # pair -> fraction of frames with o_t > 0.5
        "closest_function": NAMES[function],
        "agreement": sum(max(v, 1 - v) for v in ones.values()) / 4,
    }


@torch.no_grad()
def trajectory(model: SequenceTagger, x: torch.Tensor) -> dict:
    """What the network does over one sequence x (1, T, 1): its hidden states z (T, H) and
    outputs o_t = σ(V z_t + b_y) (T,), with its read-out (V, b_y): the data of the figure."""
    z, _ = model.rnn(x)  # (1, T, H)
    o = torch.sigmoid(model.readout(z))[0, :, 0]  # (T,)
    return {
        "z": z[0],
        "o": o,
        "readout": (model.readout.weight[0].clone(), float(model.readout.bias[0])),
    }


def run(cfg: ProductConfig, run: Run, on_event=None):
    seeds = [cfg.seed + s for s in range(cfg.seeds)]
    results, models = [], {}
    for i, seed in enumerate(seeds, 1):
        torch.manual_seed(seed)
        model = build(cfg.hidden_size)

        def make(batch, gen):
            return synthetic.product(batch, cfg.length, gen)

        task = TaggingTask(make, "bce", cfg.batch_size, seed, cfg.valid_size)
        rec = sweep.fit(
            run, f"seed{seed}", model, task, cfg.train, sweep.fingerprint("product", cfg), on_event
        )
        table = truth_table(model, cfg.exhaustive_length)
        valid_acc = rec["valid"]["accuracy"]
        solved = table["accuracy"] == 1.0 and valid_acc == 1.0
        results.append(
            {
                "seed": seed,
                "solved": solved,
                "valid_accuracy": valid_acc,
                "exhaustive_accuracy": table["accuracy"],
                "weights": weights(model),
            }
        )
        models[seed] = model
        if on_event:
            on_event(
                "stage",
                {
                    "text": f"[{i:>2}/{len(seeds)}] seed {seed}: accuracy "
                    f"{valid_acc:.2%} (validation), {table['accuracy']:.2%} (all "
                    f"2^{cfg.exhaustive_length} sequences){' · solved' if solved else ''}"
                },
            )
    lecture = {
        name: truth_table(lecture_model(t), cfg.exhaustive_length)
        for name, t in (("U z", False), ("Uᵀ z", True))
    }
    solved = sum(r["solved"] for r in results)
    claims = [
        f"{'PASS' if solved > len(seeds) / 2 else 'FAIL'}: 100% accuracy with "
        f"{cfg.hidden_size} hidden units in most seeds ({solved}/{len(seeds)})",
        *(
            f"the lecture's weights (U applied as {k}): {v['accuracy']:.1%} on the product task; "
            f"closest to {v['closest_function']}"
            for k, v in lecture.items()
        ),
    ]
    details = {
        "results": results,
        "solved": solved,
        "seeds": len(seeds),
        "lecture": lecture,
        "claims": claims,
    }
    best = next((r for r in results if r["solved"]), results[0])
    if run.ctx.main:
        gen = synthetic.generator(cfg.seed, synthetic.TEST)
        x, y, _ = synthetic.product(1, 200, gen)
        run.save_figure(
            plots.trajectory(
                trajectory(models[best["seed"]], x), x, y, f"learned, seed {best['seed']}"
            ),  # fmt: skip
            "trajectory.png",
            f"The learned network (seed {best['seed']}): its two hidden units' states coloured "
            "by (x_t-1, x_t), and the first frames of input, output and target.",
        )
        run.save_figure(
            plots.trajectory(trajectory(lecture_model(), x), x, y, "the lecture's weights (U z)"),
            "lecture.png",
            "The lecture's printed weights run as given (U applied as U z).",
        )
    headline = [
        Headline(
            f"seeds reaching 100% accuracy with {cfg.hidden_size} hidden units",
            f"{solved}/{len(seeds)}",
            "seeds",
            "the lecture: a 2-unit sigmoid RNN learns it (claim: most seeds)",
            solved > len(seeds) / 2,
        ),
        *(
            Headline(
                f"the lecture's weights, U applied as {k}",
                round(100 * v["accuracy"], 1),
                "%",
                f"closest function: {v['closest_function']}",
            )
            for k, v in lecture.items()
        ),
    ]
    return run.finish(headline, details, report(cfg, run, details, best), lines=claims)


def _matrix(m) -> str:
    return "[" + ", ".join("[" + ", ".join(f"{v:.2f}" for v in row) + "]" for row in m) + "]"


def _vector(v) -> str:
    return "[" + ", ".join(f"{x:.2f}" for x in v) + "]"


def report(cfg: ProductConfig, run: Run, s: dict, best: dict) -> str:
    t = cfg.train
    lines = [
        f"# product — y_t = x_(t-1) · x_t with {cfg.hidden_size} sigmoid hidden units",
        "",
        f"Preset `{run.preset}`. z_t = σ(W x_t + U z_(t-1) + b_x), o_t = σ(V z_t + b_y), random "
        f"bits, sequences of {cfg.length}, binary cross-entropy, {t.optimizer} lr {t.lr:g}, "
        f"{t.max_steps} steps, batch {cfg.batch_size}. Solved: every frame right on all "
        f"2^{cfg.exhaustive_length} binary sequences of length {cfg.exhaustive_length} and on "
        f"{cfg.valid_size} validation sequences.",
        "",
        "## Claims",
        "",
        *(f"- {c}" for c in s["claims"]),
        "",
        "## Learned weights",
        "",
        "| seed | solved | validation accuracy | all sequences | W | U | b_x | V | b_y |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in s["results"]:
        w = r["weights"]
        lines.append(
            f"| {r['seed']} | {'yes' if r['solved'] else 'no'} | {r['valid_accuracy']:.2%} | "
            f"{r['exhaustive_accuracy']:.2%} | {_matrix(w['W'])} | {_matrix(w['U'])} | "
            f"{_vector(w['b_x'])} | {_matrix(w['V'])} | {_vector(w['b_y'])} |"
        )
    lines += [
        "",
        f"The lecture's solution for comparison: W={_matrix(LECTURE['W'])}, "
        f"U={_matrix(LECTURE['U'])}, b_x={_vector(LECTURE['b_x'])}, V={_matrix(LECTURE['V'])}, "
        f"b_y={_vector(LECTURE['b_y'])}. Solutions differ between seeds by a permutation of the "
        "two units and by the scale of the weights.",
        "",
        "![trajectory](figures/trajectory.png)",
        "",
        "## The lecture's weights, run as given",
        "",
        "| U applied as | product accuracy | o_t = 1 for (0,0) | (0,1) | (1,0) | (1,1) | "
        "closest function |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, v in s["lecture"].items():
        ones = v["outputs_one"]
        lines.append(
            f"| {k} | {v['accuracy']:.1%} | {ones['00']:.0%} | {ones['01']:.0%} | "
            f"{ones['10']:.0%} | {ones['11']:.0%} | {v['closest_function']} "
            f"({v['agreement']:.0%} of frames) |"
        )
    computes = [k for k, v in s["lecture"].items() if v["accuracy"] == 1.0]
    verdict = (
        f"As printed, the weights compute the product with U applied as {' and '.join(computes)}."
        if computes
        else "As printed, the weights compute the product in neither orientation (the slide's "
        "two-decimal rounding, or another input coding, may be why)."
    )
    lines += [
        "",
        "Columns: the share of frames (over all histories) where the network outputs 1 for "
        f"each (x_(t-1), x_t). {verdict}",
        "",
        "![lecture](figures/lecture.png)",
    ]
    return "\n".join(lines) + "\n"


PRESETS = {
    "quick": ProductConfig(
        seeds=3,
        exhaustive_length=8,
        valid_size=128,
        train=TrainConfig(
            lr=0.05, max_steps=600, eval_every=200, checkpoint_every=200, log_every=50
        ),
    ),
    "default": ProductConfig(),
}

register(
    Experiment(
        name="product",
        summary="a 2-unit sigmoid RNN learns y_t = x_(t-1)·x_t; learned vs the lecture's weights",
        presets=PRESETS,
        run=run,
        one_thread=True,
        preset_notes={"quick": "3 seeds, seconds", "default": "10 seeds, about a minute"},
    )
)
