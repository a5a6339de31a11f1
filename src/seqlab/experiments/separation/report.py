"""The headline and report of ``separation``."""

from ...report.summary import Headline

TARGET_DB = 6.0


def headline(details: dict) -> list[Headline]:
    gain, ideal = details["improvement"], details["ideal_improvement"]
    return [
        Headline("held-out SI-SDR improvement (mean)", round(gain["mean"], 2), "dB",
                 f"target >= {TARGET_DB:g} dB; std {gain['std']:.2f}", gain["mean"] >= TARGET_DB),
        Headline("ideal ratio mask's improvement (ceiling)", round(ideal["mean"], 2), "dB",
                 f"std {ideal['std']:.2f}"),
        Headline("mixtures' own SI-SDR (mean)", round(details["mixture_si_sdr"]["mean"], 2),
                 "dB"),
    ]  # fmt: skip


def _row(name: str, s: dict) -> str:
    return (f"| {name} | {s['mean']:.2f} | {s['std']:.2f} | {s['median']:.2f} | "
            f"{s['p10']:.2f} | {s['p90']:.2f} | {s['min']:.2f} | {s['max']:.2f} |")  # fmt: skip


def report(cfg, run, details: dict) -> str:
    t = cfg.train
    kind = "bidirectional " if cfg.bidirectional else ""
    voice, music = details["voice_seconds"], details["music_seconds"]
    lines = [
        "# separation — a voice from music with an LSTM mask",
        "",
        f"Preset `{run.preset}`. Mixtures of asterisk's speaker (one human voice: "
        f"{voice['train']:.0f} s of prompts to train on, {voice['test']:.0f} s of other prompts "
        f"held out) and music on hold ({music['train']:.0f} s: the first 80% of each of the five "
        f"tracks; {music['test']:.0f} s held out: their last 20%), at a voice-to-music ratio "
        f"drawn in [{cfg.ratio_low_db:g}, {cfg.ratio_high_db:g}] dB, 8 kHz. The voice is a fixed "
        "target: the two sources are of different kinds, so no permutation-invariant training is "
        "needed (that is the problem of two voices).",
        "",
        f"Network: a {kind}seqlab LSTM, {cfg.num_layers} layers × {cfg.hidden_size} units, "
        f"{details['parameters']:,} parameters, on normalised log magnitudes of a {cfg.n_fft}-point"
        f" STFT (Hann window, hop {cfg.hop}); a sigmoid mask on the magnitude; the estimate keeps "
        "the mixture's phase (torch.istft). Loss: mean |M ⊙ |X| − |S||. Training: "
        f"{details['steps']} steps of {cfg.batch_size} fresh {cfg.seconds:g}-second mixtures, "
        f"{t.optimizer} lr {t.lr:g} ({t.schedule}), {details['train_seconds'] / 60:.1f} minutes.",
        "",
        f"## Held-out mixtures ({cfg.test_mixtures} × {cfg.test_seconds:g} s)",
        "",
        "SI-SDR (dB) against the voice alone; improvement = the estimate's minus the mixture's.",
        "",
        "| | mean | std | median | 10% | 90% | min | max |",
        "|---|---|---|---|---|---|---|---|",
        _row("mixture SI-SDR", details["mixture_si_sdr"]),
        _row("**LSTM mask: improvement**", details["improvement"]),
        _row("ideal ratio mask: improvement (ceiling)", details["ideal_improvement"]),
        "",
        "![improvement](figures/improvement.png)",
        "",
        "![spectrograms](figures/spectrograms.png)",
        "",
        "![masks](figures/masks.png)",
    ]  # fmt: skip
    if details.get("examples"):
        lines += [
            "",
            "## The WAV files (audio/)",
            "",
            "Checked by their numbers: RMS (dBFS), peak, duration and SI-SDR against the voice.",
            "",
            "| file | RMS dBFS | peak | seconds | SI-SDR (dB) |",
            "|---|---|---|---|---|",
        ]
        for files in details["examples"]:
            for f in files.values():
                lines.append(f"| {f['file']} | {f['rms_dbfs']:.1f} | {f['peak']:.3f} | "
                             f"{f['seconds']:.2f} | {f['si_sdr_db']:.1f} |")  # fmt: skip
    return "\n".join(lines) + "\n"
