"""The ``topologies`` experiment's report.md, the lines the CLI prints at the end, and the
unrolled graph of each trained network for the figure."""

from ...viz.topologies import BOX_W, UnrolledGraph
from .problems import Example


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def _units(r: dict) -> str:
    return f"{r['unit_accuracy']:.1%} {r['unit']}" if r["unit"] else "—"


def _unseen(r: dict) -> str:
    return "—" if r["unseen_accuracy"] is None else f"{r['unseen_accuracy']:.1%}"


def result_lines(s: dict) -> list[str]:
    """What `seqlab run topologies` prints: one line per topology, then the totals."""
    lines = []
    for r in s["results"].values():
        e = r["example"]
        lines.append(
            f"{_verdict(r['passed'])}: {r['topology']:<20} {r['accuracy']:6.1%} exact · unseen "
            f"inputs {_unseen(r):>6} · chance {r['chance']:5.1%} · e.g. {e['input']} → "
            f"{e['output'] or '(nothing)'}"
        )
    lines.append(
        f"{s['passed']}/{len(s['results'])} topologies reach {s['target_accuracy']:.0%} exact-match"
        f" test accuracy · {s['train_seconds']:.0f} s of training"
    )
    return lines


def models(cfg) -> dict[str, str]:
    c = cfg.cell.upper()
    a, b, m, y, q = cfg.one_to_one, cfg.one_to_many, cfg.many_to_one, cfg.synced, cfg.seq2seq
    return {
        "one_to_one": f"{a.bits} bits → one tanh RNN step, {a.hidden_size} units → read-out to "
        f"{a.bits + 1} counts",
        "one_to_many": f"digit embedding → z₀ = tanh(·) → {c} decoder, {b.hidden_size} units, "
        f"letter embedding {b.embedding_size}",
        "many_to_one": f"{m.min_length}-{m.max_length} digits, embedding {m.embedding_size} → "
        f"{c} {m.hidden_size} → read-out at the last frame",
        "synced": f"{y.min_length}-{y.max_length} bits → {c} {y.hidden_size} → σ read-out at "
        "every frame",
        "seq2seq": f"{q.min_length}-{q.max_length} digits, embedding {q.embedding_size} → {c} "
        f"encoder {q.hidden_size} → its final state → {c} decoder {q.hidden_size}, no attention",
    }


def report(cfg, run, s: dict) -> str:
    t, results = cfg.train, s["results"]
    lines = [
        "# topologies — one recurrent network per topology",
        "",
        f"Preset `{run.preset}`, seed {cfg.seed}. Five small generated tasks, one for each "
        "topology of Karpathy's diagram (one-to-one, one-to-many, many-to-one, synced "
        "many-to-many, sequence-to-sequence). Each network is trained on batches drawn from "
        "(seed, step): Adam, its own learning rate (table below) with cosine decay to "
        f"×{t.min_lr_ratio:g}, "
        f"batch {t.batch_size}, gradient clipping at {t.clip_norm:g}. It is then scored, with its "
        f"final weights, on a test set from its own stream ({t.test_size:,} examples; one-to-one:"
        " every held-out number). **Exact** means every output of an example is right (the "
        "label, the whole word with its end symbol, every frame, the whole reversed sequence); "
        "**chance** is the exact accuracy of the best constant answer on the same test set.",
        "",
        "## Claim",
        "",
        f"Each topology's network learns its task: exact-match test accuracy ≥ "
        f"{cfg.target_accuracy:.0%}. **{s['passed']}/{len(results)} passed.**",
        "",
        "![unrolled graphs of the five topologies](figures/topologies.png)",
        "",
        "Each panel is the trained network unrolled over one test example (shown with "
        "the model's own outputs; an orange box is a wrong one) and its measured test accuracy.",
        "",
        "## Results",
        "",
        "| topology | task | example: input → output (target) | exact | per unit | chance "
        "| test inputs seen in training | exact on the unseen ones | result |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results.values():
        e = r["example"]
        lines.append(
            f"| {r['topology']} | {r['task']} | `{e['input']}` → `{e['output']}` "
            f"(`{e['target']}`) | {r['accuracy']:.1%} | {_units(r)} | {r['chance']:.1%} | "
            f"{r['seen_in_training']:.0%} | {_unseen(r)} | {_verdict(r['passed'])} |"
        )
    lines += [
        "",
        "## Models and training",
        "",
        "| topology | model | learning rate | steps | seconds |",
        "|---|---|---|---|---|",
    ]
    described = models(cfg)
    for key, r in results.items():
        lines.append(
            f"| {r['topology']} | {described[key]} | {getattr(cfg, key).lr:g} | {r['steps']:,} "
            f"| {r['train_seconds']:.1f} |"
        )
    lines += ["", f"{s['train_seconds']:.1f} s of training in all.", "", "## Notes", ""]
    one = results.get("one_to_one")
    if one is not None:
        zero = one["weight_hh_grad_norm"] == 0.0
        lines.append(
            "- **one-to-one is a feed-forward net.** One step from z₀ = 0 computes "
            "o = V tanh(W x + U·0 + b): the recurrent matrix U only ever multiplies zeros, so "
            "its gradient must be exactly 0. Measured on the test set: ‖∂L/∂U‖ = "
            f"{one['weight_hh_grad_norm']:.3g} ({_verdict(zero)}). The test numbers were "
            f"never drawn in training (measured: {one['seen_in_training']:.0%} seen)."
        )
    lines += [
        "- **one-to-many** has ten possible inputs, so every test input was seen in training; "
        "its test asks that all ten names come out letter for letter, end symbol included, "
        "when the decoder is fed its own previous letter.",
        "- **Test inputs seen in training** is measured by replaying every training batch: "
        "short sequences recur (there are only 100 pairs of digits), long ones almost never. "
        "*Exact on the unseen ones* scores only the test examples whose input no training "
        "batch held: what the network worked out rather than recalled.",
        "- **sequence-to-sequence** has no attention: the encoder's final state is the only "
        "path from the source to the decoder, a fixed-size summary of the whole input.",
    ]
    failed = [r["topology"] for r in results.values() if not r["passed"]]
    if failed:
        lines += [
            "",
            f"Fell short of {cfg.target_accuracy:.0%}: {', '.join(failed)}. "
            + (
                "The `quick` preset trains tiny models for a few dozen steps: it checks that "
                "the experiment runs end to end, not that the networks learn."
                if run.preset == "quick"
                else "More steps (`--set <topology>.steps=...`) or units may close the gap."
            ),
        ]
    return "\n".join(lines) + "\n"


def graph(problem, scores: dict, shown: Example) -> UnrolledGraph:
    """The unrolled graph of ``problem``'s network over the test example ``shown``."""
    unit = f" · {scores['unit_accuracy']:.1%} {problem.unit}" if problem.unit else ""
    title = f"{problem.topology}\n{problem.task}\ntest: {scores['accuracy']:.1%} exact{unit}"
    decoder_from = None
    if shown.decoder_inputs:  # the encoder's steps, then the decoder's
        decoder_from = len(shown.inputs)
    elif shown.initial is not None:  # a decoder from the first step on
        decoder_from = 0
    one_step = problem.key == "one_to_one"
    return UnrolledGraph(
        shown.inputs + shown.decoder_inputs,
        shown.outputs,
        title,
        decoder_from,
        shown.initial,
        shown.ok,
        note="T = 1: a feed-forward net" if one_step else "",
        input_width=0.17 * len(shown.input) + 0.3 if one_step else BOX_W,  # 16 bits in one box
    )
