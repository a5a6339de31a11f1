"""``translate-bible``'s report.md and the lines the CLI prints at the end."""

from .report import budget, head_maps_section, model_lines


def bible_lines(s: dict) -> list[str]:
    lines = [
        f"{r['label']:<22} BLEU {r['bleu_greedy']:5.2f} greedy · {r['bleu_beam']:5.2f} beam "
        f"{s['beam']} · {r['steps']:,} steps in {r['train_seconds']:.0f} s"
        for r in s["results"].values()
    ]
    n = s["sizes"]
    lines.append(
        f"on {n['test']:,} verses of held-out books ({n['train']:,} training verses); "
        f"sacreBLEU {s['signature']}"
    )
    return lines


def _length_table(s: dict) -> str:
    labels = [r["label"] for r in s["results"].values()]
    buckets = sorted({int(x) for r in s["results"].values() for x, _, _ in r["by_length"]})
    head = "| source tokens | verses | " + " | ".join(labels) + " |"
    rule = "|---|---|" + "---|" * len(labels)
    rows = []
    for b in buckets:
        cells, count = [], 0
        for r in s["results"].values():
            hit = [(y, n) for x, y, n in r["by_length"] if int(x) == b]
            cells.append(f"{hit[0][0]:.2f}" if hit else "—")
            count = hit[0][1] if hit else count
        rows.append(f"| {b - 5 + 1}-{b + 5} | {count} | " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *rows])


def _books(names: str) -> str:
    return ", ".join(n.strip() for n in names.split(","))


def _bleu(x) -> str:
    return "—" if x is None else f"{x:.2f}"


def _change(before, after) -> str:
    return f"{(after - before) / before:+.0%}" if before and after is not None else "—"


def bible_report(cfg, run, s: dict) -> str:
    d, n = cfg.data, s["sizes"]
    rows = "\n".join(
        f"| {r['label']} | {r['bleu_greedy']:.2f} | {r['bleu_beam']:.2f} | "
        f"{r['valid']['loss']:.3f} | {r['steps']:,} | {r['train_seconds']:.0f} |"
        for r in s["results"].values()
    )
    examples = "\n\n".join(
        f"**{e['ref']}**  \nEnglish: {e['english']}  \nReina-Valera: {e['spanish']}  \n"
        + "  \n".join(f"{r['label']}: {e[k]}" for k, r in s["results"].items())
        for e in s["examples"]
    )
    beyond = "\n".join(
        f"- {r['label']}: {_bleu(r['bleu_within'])} → {_bleu(r['bleu_beyond'])} "
        f"({_change(r['bleu_within'], r['bleu_beyond'])})"
        for r in s["results"].values()
    )
    alignment = (
        "![alignments](figures/alignments.png)\n\nEnglish tokens along x, the Spanish the "
        "attention decoder wrote (beam search) along y.\n"
        if any(r["attends"] for r in s["results"].values())
        else ""
    )
    return f"""# translate-bible — English → Spanish with and without attention

Preset `{run.preset}`, seed {cfg.seed}. Verse pairs from the World English Bible and the
Reina-Valera 1909 (Debian `sword-text-web`, `sword-text-sparv`, read with `diatheke`).
Held out: validation books {_books(d.valid_books)}; test books {_books(d.test_books)}.
Training verses have at most {d.max_words} tokens in each language ({n["train"]:,} verses),
test verses at most {d.test_max_words} English tokens ({n["test"]:,} verses).
Vocabularies: the {d.vocab_size:,} most frequent training words per language
({s["vocab"]["source"]:,} / {s["vocab"]["target"]:,} ids with the specials), the rest `<unk>`.

Models:

{model_lines(cfg)}

Budget: {budget(cfg)}.
BLEU: sacreBLEU `{s["signature"]}` against the lowercased reference with
normalised quotes (the model writes lowercase words); beam width {s["beam"]},
score log p / length^{cfg.decode.length_penalty:g}.

## Claim

Bahdanau et al. (2015, fig. 2): the fixed-context encoder-decoder degrades as sentences grow
longer; with attention, much less.

Measured (beam {s["beam"]}), BLEU on test verses within the training lengths (≤ {d.max_words}
tokens) → beyond them ({d.max_words + 1}-{d.test_max_words} tokens):
{beyond}

## Results

| decoder | BLEU greedy | BLEU beam {s["beam"]} | valid loss (nats/token) | steps | training s |
|---|---|---|---|---|---|
{rows}

![BLEU against length](figures/bleu_by_length.png)

{_length_table(s)}

{alignment}{head_maps_section(s)}
![validation curves](figures/training.png)

## Examples (held-out books, beam search)

{examples}
"""
