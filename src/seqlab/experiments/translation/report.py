"""What the translation experiments' reports share: the validation curves of the models
trained side by side, and the sentences that describe the models and the training budget from
the configuration (each corpus writes the rest of its own report)."""

from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ...models.protocols import translation_variant
from ...train.metrics import read_metrics
from .task import training_of


def curves_figure(run, trained) -> Figure:
    """Validation loss (nats per target token) against training step, one line per decoder;
    beside it the validation exact match, where it was measured."""
    rows = {
        t.label: [
            r
            for r in read_metrics(run.dir / "trainings" / t.kind / "metrics.jsonl")
            if r.get("split") == "valid"
        ]
        for t in trained
    }
    panels = [("loss", "validation cross-entropy (nats per token)")]
    if any("exact" in r for rs in rows.values() for r in rs):
        panels.append(("exact", "validation exact match (greedy)"))
    fig = Figure(figsize=(6.0 * len(panels), 4.0), layout="constrained")
    for k, (key, ylabel) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        for label, rs in rows.items():
            points = [(r["step"], r[key]) for r in rs if key in r]
            if points:
                xs, ys = zip(*points, strict=True)
                last = f"{ys[-1]:.3g}" if key == "loss" else f"{ys[-1]:.1%}"
                ax.plot(xs, ys, marker="o", ms=3, lw=2, label=f"{label}: last {last}")
        if key == "loss":
            losses = [r["loss"] for rs in rows.values() for r in rs if r["loss"] > 0]
            if losses and max(losses) > 10 * min(losses):  # a log axis only across decades
                ax.set_yscale("log")
        else:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=9)
    fig.suptitle("Same data, sizes and steps; only the decoder's context differs", fontsize=10)
    return fig


def step_text(step) -> str:
    return "never" if step is None else f"{step:,}"


def pct(x) -> str:
    return "—" if x is None else f"{x:.1%}"


def model_lines(cfg) -> str:
    """One bullet per model of ``cfg.models``: its label and what it is, as configured."""
    lines = []
    for kind in cfg.kinds:
        variant = translation_variant(kind, cfg)
        lines.append(f"- {variant.label}: {variant.describe(getattr(cfg, variant.section))}")
    return "\n".join(lines)


def _optimiser(t) -> str:
    """The optimiser and learning-rate schedule of one TrainConfig."""
    names = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD"}
    momentum = f" (momentum {t.momentum:g})" if t.optimizer == "sgd" and t.momentum else ""
    beta2 = f" (β₂ {t.beta2:g})" if t.optimizer != "sgd" and t.beta2 != 0.999 else ""
    if t.schedule == "noam":
        schedule = f"the noam schedule ({t.warmup_steps} warm-up steps, then 1/√step)"
    else:
        warmup = f", {t.warmup_steps} warm-up steps" if t.warmup_steps else ""
        schedule = f"{t.schedule} decay to ×{t.min_lr_ratio:g}{warmup}"
    return f"{names[t.optimizer]}{momentum}{beta2} lr {t.lr:g} with {schedule}"


def budget(cfg) -> str:
    """The training budget and each model's optimiser, as configured: a model whose section
    overrides the run's ``train`` settings (the Transformer's own schedule) is named with its
    own."""
    t = cfg.train
    limit = f"{t.max_steps:,} steps" if t.max_steps else ""
    if t.time_budget:
        limit += (" or " if limit else "") + f"{t.time_budget:.0f} s"
    clip = f"gradient clipping at {t.clip_norm:g}" if t.clip_norm else "no gradient clipping"
    groups: dict[str, list[str]] = {}  # optimiser text -> the models trained with it
    for kind in cfg.kinds:
        groups.setdefault(_optimiser(training_of(cfg, kind)[0]), []).append(
            translation_variant(kind, cfg).label
        )
    if len(groups) == 1:
        return f"{limit} each, batch {cfg.batch_size}, {next(iter(groups))}, {clip}"
    each = "; ".join(f"{text} ({', '.join(labels)})" for text, labels in groups.items())
    return f"{limit} each, batch {cfg.batch_size}, {clip}; {each}"


def head_maps_section(s: dict) -> str:
    """The report's paragraph on the Transformer's per-head maps (empty without one)."""
    maps = s.get("head_maps")
    if not maps:
        return ""
    return (
        f"\n## Inside the {maps['label']}\n\n![per-head attention]({maps['path']})\n\n"
        f"Every layer and head on one test sentence (`{maps['source']}`), greedy: encoder "
        "self-attention (source × source), the decoder's causal self-attention (each output "
        "row over the decoder inputs before it) and cross-attention (output × source).\n"
    )
