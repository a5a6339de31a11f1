"""The headline and report of ``spoken-words``."""

from ...report.summary import Headline

FRAME_MS = 10


def _largest(part: dict) -> tuple[int, dict]:
    n = max(part["by_size"], key=int)
    return n, part["by_size"][n]


def headline(details: dict) -> list[Headline]:
    out = []
    if "a" in details:
        a = details["a"]
        smallest = min(a["by_size"], key=int)
        n, best = _largest(a)
        out.append(Headline(f"(a) held-out synthetic, {a['hidden']} units, {smallest}/class",
                            100 * a["by_size"][smallest]["synthetic"]["median"], "%",
                            "the lecture trains on 4 per class; median of seeds"))  # fmt: skip
        out.append(Headline(f"(a) held-out synthetic, {a['hidden']} units, {n}/class",
                            100 * best["synthetic"]["median"], "%", "target >= 95%",
                            best["synthetic"]["median"] >= 0.95))  # fmt: skip
        out.append(Headline(f"(a) real human voice, {n}/class", 100 * best["human"]["median"],
                            "%", "2 recordings, each at several placements"))  # fmt: skip
        offset = best["decision_offset_frames"]
        if offset is not None:
            out.append(Headline("(a) decision frame - end of the word", offset["median"] * FRAME_MS,
                                "ms", f"{offset['share_before_word_end']:.0%} decided before the "
                                "word ends"))  # fmt: skip
    if "b" in details:
        b = details["b"]
        n, best = _largest(b)
        out.append(Headline(f"(b) held-out synthetic, {b['hidden']} units, {n}/class",
                            100 * best["synthetic"]["median"], "%", "target >= 95%",
                            best["synthetic"]["median"] >= 0.95))  # fmt: skip
        out.append(Headline('(b) "one two" whose decision flips after "two" begins',
                            100 * best["flip_share"]["median"], "%", "target >= 90%",
                            best["flip_share"]["median"] >= 0.90))  # fmt: skip
        out.append(Headline('(b) "one" that never flips', 100 * best["never_flip_share"]["median"],
                            "%"))  # fmt: skip
        out.append(Headline(f"(b) real human voice, {n}/class", 100 * best["human"]["median"], "%",
                            "2 recordings, each at several placements"))  # fmt: skip
    return out


def _range(d: dict, scale: float = 100) -> str:
    return f"{scale * d['median']:.1f} ({scale * d['min']:.0f}-{scale * d['max']:.0f})"


def report(cfg, run, details: dict) -> str:
    t = cfg.train
    voices = details["voices"]
    lines = [
        "# spoken-words — words told apart by an LSTM of 3-4 units",
        "",
        f"Preset `{run.preset}`. Words synthesized by espeak-ng and flite at 8 kHz, each "
        "utterance by one voice at a random speed and pitch (±25%), after a random silence, "
        "padded with silence to a fixed length, at a random level with white noise 30-50 dB "
        f"below the speech. {len(voices['train'])} voices train, {len(voices['held_out'])} other "
        f"voices make the held-out test ({cfg.test_per_class} utterances per class); the real "
        "human voice is asterisk's recording of each word (one speaker, one take per word), "
        f"placed {cfg.human_placements} times at random, never trained on. Features: 13 MFCCs "
        "(25 ms frames every 10 ms, coefficient 0 the log energy), normalised by the training "
        "set's mean and deviation. Network: a seqlab LSTM, a linear read-out at every frame; "
        "the utterance's class is the class of the frames' mean log-probability. Training: "
        f"cross-entropy at every scored frame, {t.optimizer} lr {t.lr:g} ({t.schedule}), "
        f"{t.max_steps} steps of up to {cfg.batch_size} utterances, {cfg.seeds} seeds per size.",
        "",
        "Numbers: median over seeds (min-max). Held-out voices: "
        + ", ".join(voices["held_out"]) + ".",
    ]  # fmt: skip
    if "a" in details:
        lines += _part_a(details["a"])
    if "b" in details:
        lines += _part_b(details["b"])
    return "\n".join(lines) + "\n"


def _part_a(a: dict) -> list[str]:
    lines = [
        "",
        f"## (a) {' vs '.join(repr(c) for c in a['classes'])}, {a['hidden']} units",
        "",
        "| utterances per class | held-out synthetic (%) | human voice (%) | decision frame - "
        "word end (median ms) | decided before the word ends |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for n, s in a["by_size"].items():
        off = s["decision_offset_frames"]
        when = (f"{off['median'] * FRAME_MS:+.0f} | {off['share_before_word_end']:.0%}"
                if off else "- | -")  # fmt: skip
        lines.append(f"| {n} | {_range(s['synthetic'])} | {_range(s['human'])} | {when} |")
    lines += [
        "",
        "The decision frame of a held-out utterance classified right is the first frame from "
        "which every frame's decision is the final class (the word's first frame when it holds "
        "from before the word, as silence leaves the network near 50/50 and the decision "
        "flickers there); it is compared with the word's last "
        'frame. "one" and "two" have one syllable each, so the end of the word is the end of the '
        "first syllable.",
        "",
        "![decisions](figures/decision_a.png)",
        "",
        "![units](figures/units_a.png)",
        "",
        "![data size](figures/data_size_a.png)",
    ]  # fmt: skip
    return lines


def _part_b(b: dict) -> list[str]:
    lines = [
        "",
        f"## (b) {' vs '.join(repr(c) for c in b['classes'])}, {b['hidden']} units",
        "",
        'Frames of a "one two" utterance before "two" begins are not scored in training: up to '
        'there the audio is the start of a "one" utterance, and nothing in it tells the classes '
        'apart. A "one two" utterance **flips** when its frame-wise decision is "one" at every '
        'frame from the onset of "one" to the frame before "two" begins, and "one two" at every '
        'frame from some frame at or after that onset to the end; a "one" utterance **never '
        'flips** when its decision is "one" at every frame from the onset of the word on.',
        "",
        '| utterances per class | held-out synthetic (%) | human voice (%) | "one two" flipping '
        '(%) | "one" never flipping (%) | flip after "two" begins (median ms) |',
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for n, s in b["by_size"].items():
        delay = s["flip_delay_frames"]
        lines.append(
            f"| {n} | {_range(s['synthetic'])} | {_range(s['human'])} | "
            f"{_range(s['flip_share'])} | {_range(s['never_flip_share'])} | "
            f"{'-' if delay is None else f'{delay * FRAME_MS:.0f}'} |"
        )
    lines += [
        "",
        "![decisions](figures/decision_b.png)",
        "",
        "![units](figures/units_b.png)",
        "",
        "![data size](figures/data_size_b.png)",
    ]
    return lines
