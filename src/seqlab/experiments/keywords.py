"""``keywords``: an LSTM that reads a sentence word by word and waits for the words that decide.

Data (:mod:`seqlab.data.houses`): generated sentences about characters of Shakespeare's
houses. Part 1: the label is the house of the one character named. Part 2 (marital): the house
the partner named first belongs to after a marriage: the second's, unless the first is a
Lancaster (the crown never marries out), so it needs both names unless the first decides it.

Model (:class:`~seqlab.models.KeywordClassifier`): embedding → seqlab LSTM → a distribution over
the houses at every step. Trained with the cross-entropy at **every** step (``loss_on="every"``,
the default: before the deciding word the best answer is the prior, after it the house), or at
the last step only (``loss_on="last"``).

Measured on held-out frames (and, in part 2, held-out couples): accuracy at the last word; and
for each test sentence the first step at which some class reaches ``threshold`` (0.9), against
the position of the deciding word: decided before it, exactly at it (with the right house),
after it, or never.
"""

import random
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..config import check
from ..data import houses
from ..data.vocab import TokenVocab
from ..models.selfattentive import KeywordClassifier
from ..report.summary import Headline
from ..train import TrainConfig
from ..viz import keywords as plots
from . import sweep
from .registry import Experiment, register
from .rundir import Run

VALID, TEST = -1, -2


@dataclass(frozen=True)
class KeywordsConfig:
    parts: str = "1,2"
    embedding_size: int = 16
    hidden_size: int = 24
    loss_on: str = "every"  # every | last
    batch_size: int = 64
    valid_size: int = 512
    test_size: int = 1000  # sentences per test set
    threshold: float = 0.9
    backend: str = "auto"
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=1e-2, max_steps=3000, eval_every=250, checkpoint_every=500, log_every=50
        )
    )
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        check(set(self.part_list) <= {1, 2} and self.part_list, "parts", self.parts, "1, 2 or 1,2")
        for name in ("embedding_size", "hidden_size", "batch_size", "valid_size", "test_size"):
            check(getattr(self, name) >= 1, name, getattr(self, name), "an integer >= 1")
        check(self.loss_on in ("every", "last"), "loss_on", self.loss_on, "every or last")
        check(0.5 < self.threshold < 1, "threshold", self.threshold, "a probability in (0.5, 1)")
        check(self.backend in ("auto", "seqlab"), "backend", self.backend, "auto or seqlab")

    @property
    def part_list(self) -> tuple[int, ...]:
        try:
            return tuple(sorted({int(p) for p in str(self.parts).split(",") if p.strip()}))
        except ValueError:
            return ()


def vocabulary() -> TokenVocab:
    return TokenVocab(houses.vocabulary_words())


def encode(batch: list[houses.Sentence], vocab: TokenVocab):
    """-> tokens (B, T) padded with 0, labels (B,), lengths (B,)."""
    T = max(len(s.words) for s in batch)
    tokens = torch.zeros(len(batch), T, dtype=torch.long)
    for i, s in enumerate(batch):
        tokens[i, : len(s.words)] = torch.tensor(vocab.encode(list(s.words)))
    labels = torch.tensor([s.label for s in batch])
    return tokens, labels, torch.tensor([len(s.words) for s in batch])


def _rng(seed: int, part: int, index: int) -> random.Random:
    return random.Random(f"keywords-{seed}-{part}-{index}")


class KeywordTask:
    """Fresh sentences from the training frames at every step; a fixed validation set."""

    items = "sentences"

    def __init__(self, cfg: KeywordsConfig, part: int, vocab: TokenVocab):
        self.cfg, self.part, self.vocab = cfg, part, vocab
        self.valid = encode(self._draw(cfg.valid_size, VALID), vocab)

    def _draw(self, count: int, index: int, frames: str = "train", couples: str = "train"):
        rng = _rng(self.cfg.seed, self.part, index)
        return houses.sentences(self.part, count, rng, frames, couples, self.cfg.seed)

    def train_batch(self, step: int, ctx):
        tokens, labels, lengths = encode(self._draw(self.cfg.batch_size, step), self.vocab)
        share = slice(ctx.rank, None, ctx.world)
        return tokens[share], labels[share], lengths[share]

    def loss(self, logits, labels, lengths):
        """Cross-entropy with the sentence's label at every real step, or at the last."""
        if self.cfg.loss_on == "last":
            last = logits[torch.arange(len(labels)), lengths - 1]  # (B, C)
            return F.cross_entropy(last, labels)
        steps = torch.arange(logits.shape[1])[None, :] < lengths[:, None]  # (B, T)
        targets = labels[:, None].expand_as(steps)
        return F.cross_entropy(logits[steps], targets[steps])

    def train_step(self, model, batch, carry):
        tokens, labels, lengths = batch
        return self.loss(model(tokens), labels, lengths), None, len(labels)

    def evaluate(self, model, ctx):
        tokens, labels, lengths = (t[ctx.rank :: ctx.world] for t in self.valid)
        logits = model(tokens)
        last = logits[torch.arange(len(labels)), lengths - 1]
        n = len(labels)
        return {
            "loss": (float(self.loss(logits, labels, lengths)) * n, n),
            "accuracy": (float((last.argmax(-1) == labels).sum()), n),
        }


def test_sets(cfg: KeywordsConfig, part: int) -> dict[str, list[houses.Sentence]]:
    """The held-out sets of a part: frames never trained on; in part 2 also couples."""

    def draw(k, frames, couples):
        rng = _rng(cfg.seed, part, TEST - k)
        return houses.sentences(part, cfg.test_size, rng, frames, couples, cfg.seed)

    if part == 1:
        return {"held-out frames": draw(0, "test", "any")}
    return {
        "held-out frames": draw(0, "test", "train"),
        "held-out couples": draw(1, "train", "test"),
        "both held out": draw(2, "test", "test"),
    }


@torch.no_grad()
def probabilities(model, batch: list[houses.Sentence], vocab: TokenVocab) -> list[torch.Tensor]:
    """p_t(class) of each sentence, (T_i, C) each."""
    model.eval()
    tokens, _, lengths = encode(batch, vocab)
    probs = model(tokens).softmax(-1)
    return [probs[i, : int(n)] for i, n in enumerate(lengths)]


def decision(probs: torch.Tensor, threshold: float) -> tuple[int | None, int]:
    """(first step at which some class reaches ``threshold`` or None, that class)."""
    reached = (probs.max(-1).values >= threshold).nonzero()
    if len(reached) == 0:
        return None, -1
    t = int(reached[0])
    return t, int(probs[t].argmax())


def analyse(sets: dict, model, vocab, threshold: float) -> dict:
    """Accuracy per test set; decision timing per kind of sentence over all of them."""
    accuracy, timing = {}, {}
    for name, batch in sets.items():
        probs = probabilities(model, batch, vocab)
        right = [int(p[-1].argmax()) == s.label for p, s in zip(probs, batch, strict=True)]
        accuracy[name] = {"right": sum(right), "n": len(batch), "accuracy": sum(right) / len(batch)}
        for p, s in zip(probs, batch, strict=True):
            t, cls = decision(p, threshold)
            offset = None if t is None else t - s.deciding
            timing.setdefault(s.kind, []).append((offset, cls == s.label))
    kinds = {}
    for kind, rows in timing.items():
        n = len(rows)
        at = sum(o == 0 and ok for o, ok in rows)
        kinds[kind] = {
            "n": n,
            "before": sum(o is not None and o < 0 for o, _ in rows) / n,
            "at": at / n,
            "at_wrong_house": sum(o == 0 and not ok for o, ok in rows) / n,
            "after": sum(o is not None and o > 0 for o, _ in rows) / n,
            "never": sum(o is None for o, _ in rows) / n,
            "offsets": [o for o, _ in rows],
        }
    return {"accuracy": accuracy, "decision": kinds}


def strips(sets: dict, model, vocab, count: int) -> list[plots.Strip]:
    """A few test sentences of each kind, for the figure."""
    chosen, seen = [], {}
    for batch in sets.values():
        for s in batch:
            key = (s.kind, s.label)
            if seen.get(s.kind, 0) < count and key not in {(c.kind, c.label) for c in chosen}:
                chosen.append(s)
                seen[s.kind] = seen.get(s.kind, 0) + 1
    chosen.sort(key=lambda s: s.kind != "two-name")
    out = []
    for s, p in zip(chosen, probabilities(model, chosen, vocab), strict=True):
        title = f"{s.kind}: label {houses.HOUSES[s.label]}; deciding word '{s.words[s.deciding]}'"
        out.append(plots.Strip(list(s.words), p.numpy(), s.deciding, s.label, title))
    return out


def run(cfg: KeywordsConfig, run: Run, on_event=None):
    vocab = vocabulary()
    results = {}
    for part in cfg.part_list:
        torch.manual_seed(cfg.seed)
        model = KeywordClassifier(
            len(vocab), len(houses.HOUSES), cfg.embedding_size, cfg.hidden_size, cfg.backend
        )
        task = KeywordTask(cfg, part, vocab)
        if on_event:
            on_event("stage", {"text": f"part {part}: training"})
        rec = sweep.fit(
            run, f"part{part}", model, task, cfg.train, sweep.fingerprint("keywords", cfg), on_event
        )
        sets = test_sets(cfg, part)
        found = analyse(sets, model, vocab, cfg.threshold)
        found["train"] = {k: rec[k] for k in ("steps", "train_seconds", "train_loss")}
        found["valid_accuracy"] = rec["valid"].get("accuracy")
        results[part] = found
        if run.ctx.main:
            kinds = 4 if part == 1 else 3
            figure = plots.probability_strips(
                strips(sets, model, vocab, kinds),
                list(houses.HOUSES),
                cfg.threshold,
                f"Part {part}: p_t(house) after each word (gold: the deciding word)",
            )
            run.save_figure(
                figure,
                f"part{part}_strips.png",
                f"Part {part}: the class probabilities under the words of held-out "
                "test sentences; the deciding word shaded.",
            )
            offsets = {k: v["offsets"] for k, v in found["decision"].items()}
            run.save_figure(
                plots.decision_offsets(offsets, cfg.threshold),
                f"part{part}_decisions.png",
                f"Part {part}: where the first step with p ≥ {cfg.threshold:g} falls "
                "against the deciding word.",
            )
    details = {f"part{p}": r for p, r in results.items()}
    return run.finish(headline(cfg, results), details, report(cfg, run, results))


def headline(cfg: KeywordsConfig, results: dict) -> list[Headline]:
    out = []
    for part, r in results.items():
        right = sum(a["right"] for a in r["accuracy"].values())
        n = sum(a["n"] for a in r["accuracy"].values())
        out.append(
            Headline(
                f"part {part} held-out accuracy",
                round(100 * right / n, 2),
                "%",
                "target >= 99%",
                right / n >= 0.99,
            )
        )
        kinds = r["decision"]
        if part == 1:
            d = kinds["one-name"]
            out.append(
                Headline(
                    "part 1 decided at the name",
                    round(100 * d["at"], 2),
                    "%",
                    f"target >= 95% (before it: {100 * d['before']:.1f}%)",
                    d["at"] >= 0.95,
                )
            )
        else:
            for kind, word in (("two-name", "second"), ("one-name", "first")):
                if kind in kinds:
                    d = kinds[kind]
                    target = "target >= 95%" if kind == "two-name" else "a Lancaster decides alone"
                    out.append(
                        Headline(
                            f"part 2 {kind} decided at the {word} name",
                            round(100 * d["at"], 2),
                            "%",
                            f"{target} (before it: {100 * d['before']:.1f}%)",
                            d["at"] >= 0.95 if kind == "two-name" else None,
                        )
                    )
    return out


def report(cfg: KeywordsConfig, run: Run, results: dict) -> str:
    t = cfg.train
    lines = [
        "# keywords — an LSTM that waits for the words that decide",
        "",
        f"Preset `{run.preset}`. Generated sentences over Shakespeare's houses "
        f"({', '.join(houses.HOUSES)}; {len(houses.NAMES)} characters). Model: embedding "
        f"{cfg.embedding_size} → seqlab LSTM {cfg.hidden_size} units → softmax over the "
        f"{len(houses.HOUSES)} houses at every step; cross-entropy at "
        f"{'every step' if cfg.loss_on == 'every' else 'the last step only'}, {t.optimizer} "
        f"lr {t.lr:g}, batch {cfg.batch_size}, {t.max_steps} steps of fresh sentences from the "
        f"training frames. A sentence is *decided* at the first step where some house reaches "
        f"p ≥ {cfg.threshold:g}; it is compared with the position of the deciding word.",
        "",
        "Part 2's rule: the label is the house the partner named first belongs to after the "
        "marriage: the house of the partner named second, except that the crown never marries "
        "out, so a Lancaster named first keeps the couple in Lancaster and decides it alone "
        "(*one-name*); every other sentence needs the second name (*two-name*).",
        "",
        "A single name cannot be held out: a word-level model cannot know the house of a name "
        "it never read. Held out are whole sentence frames (every word of them occurs in "
        "training) and, in part 2, a fifth of the couples.",
    ]
    for part, r in results.items():
        lines += [
            "",
            f"## Part {part}",
            "",
            "| test set | sentences | accuracy (last word) |",
            "|---|---|---|",
        ]
        for name, a in r["accuracy"].items():
            lines.append(f"| {name} | {a['n']} | {100 * a['accuracy']:.2f}% |")
        lines += [
            "",
            f"Training: {r['train']['steps']} steps, {r['train']['train_seconds']:.0f} s;"
            f" validation accuracy {100 * (r['valid_accuracy'] or 0):.2f}%.",
            "",
            "| sentences | n | decided before the deciding word | at it (right house) | "
            "at it (wrong house) | after it | never |",
            "|---|---|---|---|---|---|---|",
        ]
        for kind, d in sorted(r["decision"].items(), reverse=True):
            lines.append(
                f"| {kind} | {d['n']} | {100 * d['before']:.1f}% | {100 * d['at']:.1f}% | "
                f"{100 * d['at_wrong_house']:.1f}% | {100 * d['after']:.1f}% | "
                f"{100 * d['never']:.1f}% |"
            )
        lines += [
            "",
            f"![strips](figures/part{part}_strips.png)",
            "",
            f"![decisions](figures/part{part}_decisions.png)",
        ]
    return "\n".join(lines) + "\n"


PRESETS = {
    "quick": KeywordsConfig(
        test_size=200,
        valid_size=128,
        train=TrainConfig(
            lr=1e-2, max_steps=250, eval_every=125, checkpoint_every=125, log_every=25
        ),
    ),
    "default": KeywordsConfig(),
}

register(
    Experiment(
        name="keywords",
        summary="an LSTM decides a character's house when it reads the name (and a marriage's "
        "at the second name); p_t(house) under the words",
        presets=PRESETS,
        run=run,
        one_thread=True,
        preset_notes={
            "quick": "250 steps per part, seconds",
            "default": "3,000 steps per part (about a minute)",
        },
    )
)
