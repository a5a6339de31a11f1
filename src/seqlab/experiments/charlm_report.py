"""``charlm``'s report.md: the data, the model, the budget, the losses and the sample."""

import math

from ..models.charlm import CharLMConfig, variant_words
from ..report.summary import Headline

LN2 = math.log(2)


def headline(d: dict) -> list[Headline]:
    """The run's headline results, from its details."""
    return [
        Headline(
            "validation loss (best)",
            round(d["best_valid_loss"], 4),
            "nats/char",
            f"unigram baseline {d['unigram_loss']:.4f}",
        ),
        Headline("training loss (last window)", round(d["train_loss"], 4), "nats/char"),
        Headline("steps", d["steps"], "", f"in {_duration(d['train_seconds'])} of training"),
        Headline("throughput (median)", round(d["chars_per_s"]), "chars/s"),
    ]


def result_lines(s: dict) -> list[str]:
    """What `seqlab run` prints at the end."""

    def nats(x):
        return "n/a" if x is None or not math.isfinite(x) else f"{x:.4f} nats ({x / LN2:.3f} bits)"

    lines = [
        f"{s['steps']:,} steps in {_duration(s['train_seconds'])} ({s['stop_reason']})"
        f" · median {s.get('chars_per_s', float('nan')):,.0f} chars/s",
        f"training loss   {nats(s['train_loss'])} per char",
        f"validation loss {nats(s['valid_loss'])} per char "
        f"(best {s['best_valid_loss']:.4f} at step {s['best_step']:,})",
    ]
    if "sample" in s:
        lines += ["", "sample:", *("  | " + line for line in s["sample"].rstrip().split("\n"))]
    return lines


def _duration(seconds: float) -> str:
    """``42.1 s`` under a minute, else ``m:ss``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def median_of(values):
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


def model_sentence(m: CharLMConfig) -> str:
    """The model as the report describes it."""
    if m.kind == "transformer":
        return (
            f"embedding {m.hidden_size} + {m.positional} positions (context {m.max_len}) → "
            f"{m.num_layers} {'pre' if m.norm_first else 'post'}-norm Transformer blocks "
            f"(d_model {m.hidden_size}, {m.heads} heads, FFN {m.ff_size or 4 * m.hidden_size} "
            f"{m.activation}, causal self-attention, attention backend `{m.backend}`, dropout "
            f"{m.dropout}) → LayerNorm → linear to the vocabulary"
        )
    return (
        f"embedding {m.embedding_size} → {m.num_layers} × {m.hidden_size} {m.cell.upper()} "
        f"(backend `{m.backend}`{variant_words(m)}, dropout {m.dropout}) "
        "→ linear to the vocabulary"
    )


def report(cfg, run, s: dict) -> str:
    m, t = cfg.model, cfg.train

    def nats(x):
        return "n/a" if x is None or not math.isfinite(x) else f"{x:.4f} nats ({x / LN2:.4f} bits)"

    scored = ""
    if cfg.data.max_valid_chars and cfg.data.max_valid_chars < s["valid_chars"]:
        scored = (
            f" Validation losses are over the first {cfg.data.max_valid_chars:,} validation"
            " characters only (`data.max_valid_chars`)."
        )
    budget = f"{t.max_steps} steps" if t.max_steps else ""
    if t.time_budget:
        budget += (" or " if budget else "") + f"{t.time_budget / 60:g} minutes"
    return f"""# charlm — character-level language model

Preset `{run.preset}`. Data: {s["source"]} — {s["train_chars"]:,} training and
{s["valid_chars"]:,} validation characters, {s["vocab"]} distinct.{scored}

Model: {model_sentence(m)}; {s["parameters"]:,} parameters. Training: {t.optimizer} lr {t.lr:g}
({t.schedule}, warm-up {t.warmup_steps}), batch {cfg.data.batch_size} × {cfg.data.chunk_length}
characters, clipping at {t.clip_norm:g}, budget {budget}.

## Result

| | per character |
|---|---|
| final training loss (last logging window) | {nats(s["train_loss"])} |
| final validation loss | {nats(s["valid_loss"])} |
| best validation loss (step {s["best_step"]}) | {nats(s["best_valid_loss"])} |

{s["steps"]:,} steps in {s["train_seconds"] / 60:.1f} minutes (stopped by {s["stop_reason"]});
median throughput {s["chars_per_s"]:,.0f} characters/s.

For scale: predicting each validation character from the training text's character
frequencies alone (a unigram model) costs {nats(s["unigram_loss"])}.

![loss](figures/loss.png)

## Sample

Temperature {cfg.sample.temperature}, top-k {cfg.sample.top_k or "off"}, seed {cfg.seed}, from
the best validation weights:

```
{s["sample"]}
```
"""
