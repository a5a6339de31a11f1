"""``translate-dates``'s report.md and the lines the CLI prints at the end."""

from .report import budget, head_maps_section, model_lines, pct, step_text


def dates_lines(s: dict) -> list[str]:
    lines = []
    for r in s["results"].values():
        verdict = ""
        if r["attends"]:
            verdict = "PASS: " if r["exact_greedy"] >= s["target_accuracy"] else "FAIL: "
        lines.append(
            f"{verdict}{r['label']:<22} exact match {r['exact_greedy']:6.1%} greedy · "
            f"{r['exact_beam']:6.1%} beam {s['beam']} · validation ≥ {s['target_accuracy']:.0%} "
            f"from step {step_text(r['steps_to_target'])} · {r['steps']:,} steps in "
            f"{r['train_seconds']:.0f} s"
        )
    lines.append(
        f"on {s['test_size']:,} test dates that never occur in training; target for attention: "
        f"≥ {s['target_accuracy']:.0%}"
    )
    return lines


def dates_report(cfg, run, s: dict) -> str:
    rows = "\n".join(
        f"| {r['label']} | {pct(r['exact_greedy'])} | {pct(r['exact_beam'])} | "
        f"{step_text(r['steps_to_target'])} | {r['valid']['loss']:.2e} | "
        f"{r['steps']:,} | {r['train_seconds']:.0f} |"
        for r in s["results"].values()
    )
    attention = {k: r for k, r in s["results"].items() if r["attends"]}
    claim = ""
    for r in attention.values():
        verdict = "PASS" if r["exact_greedy"] >= s["target_accuracy"] else "FAIL"
        claim += (
            f"\n{r['label']}: **{pct(r['exact_greedy'])}** exact match (greedy), target "
            f"≥ {s['target_accuracy']:.0%}: **{verdict}**."
        )
        if r["year_attention"] is not None:
            claim += (
                f" Of the output year digits of test dates that write a four-digit year, "
                f"{pct(r['year_attention'])} have their strongest attention on that year "
                "(or the character beside it)."
            )
    fixed = next((r for r in s["results"].values() if not r["attends"]), None)
    if fixed is not None:
        claim += (
            f"\n\nThe {fixed['label']} model, same budget: **{pct(fixed['exact_greedy'])}** exact "
            f"match (greedy); validation exact match ≥ {s['target_accuracy']:.0%} from step "
            f"{step_text(fixed['steps_to_target'])}"
            + "".join(
                f" ({r['label']}: from step {step_text(r['steps_to_target'])})"
                for r in attention.values()
            )
            + f". The test dates are {s['source_lengths'][0]}-{s['source_lengths'][1]} "
            "characters long."
        )
    errors = ""
    for r in s["results"].values():
        if r["errors"]:
            shown = "\n".join(
                f"| `{e['source']}` | `{e['target']}` | `{e['output']}` |" for e in r["errors"]
            )
            errors += (
                f"\n\n**{r['label']}** (first {len(r['errors'])} greedy errors):\n\n"
                f"| source | target | output |\n|---|---|---|\n{shown}"
            )
    head = (
        f"| decoder | exact (greedy) | exact (beam {s['beam']}) | first step with validation "
        f"exact ≥ {s['target_accuracy']:.0%} | final valid loss (nats/token) | steps | "
        "training s |"
    )
    penalty = f"{cfg.decode.length_penalty:g}"
    alignment = (
        "\n![alignments](figures/alignments.png)\n\nEach panel: the characters of a test "
        "date along x, the characters the attention decoder wrote (greedy) along y, α_ij as "
        "grey level. Each output digit should read its own part of the source: the year "
        "digits the year, the month digits the month name or number, the day digits the day.\n"
        if attention
        else ""
    )
    return f"""# translate-dates — Bahdanau attention against a fixed context vector

Preset `{run.preset}`, seed {cfg.seed}. Source: a date written by `babel` in one of many
locale formats; target: the same date as ISO `YYYY-MM-DD`, character by character. Every
date from 1950 to 2049 belongs to exactly one split (train, validation, test), so the test
dates never occur in training. {s["test_size"]:,} test dates.

Models (the same encoder sizes; the fixed-context decoder gets [→h_L ; ←h_1] at every step
instead of an attention context):

{model_lines(cfg)}

Budget: {budget(cfg)}. Beam search: width {s["beam"]}, score log p / length^{penalty}.

## Claim

Bahdanau et al. (2015): with attention the decoder reads the part of the source it needs
for each output token, instead of everything squeezed into one vector.
{claim}

## Results

{head}
|---|---|---|---|---|---|---|
{rows}
{alignment}{head_maps_section(s)}
![validation curves](figures/training.png)

Validation during training ({cfg.valid_size:,} dates of the validation split):
teacher-forced loss, and the share translated exactly by greedy decoding.

## Errors
{errors or chr(10) + "none."}
"""
