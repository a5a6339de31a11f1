"""Run folders as `seqlab run` leaves them, made up for the gallery's tests: config.json,
env.json, metrics (at the top or under trainings/NAME/), a matplotlib PNG, a WAV written with
the standard `wave` module, an HTML heatmap, a text sample, report.md with a table and an
image, and summary.json through the Summary dataclass."""

import json
import math
import struct
import wave
from pathlib import Path

from matplotlib.figure import Figure

from seqlab.report.summary import Artefact, Headline, Summary, to_json

HEATMAP = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>alignment</title>
<style>td {{ width: 2.2em; height: 1.6em; text-align: center; }}</style></head>
<body><table>{rows}</table></body></html>
"""


def write_json(path: Path, record) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def write_metrics(path: Path, steps: int = 40, valid_every: int = 10) -> None:
    """Falling train losses every step, a validation row every ``valid_every``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for step in range(1, steps + 1):
        rows.append({"step": step, "split": "train", "loss": 2.0 * math.exp(-step / 15) + 0.1,
                     "lr": 0.01})  # fmt: skip
        if step % valid_every == 0:
            rows.append({"step": step, "split": "valid", "loss": 2.1 * math.exp(-step / 15) + 0.15})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def write_figure(path: Path, title: str) -> None:
    fig = Figure(figsize=(5, 3), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1, 2, 3], [3.0, 1.5, 1.0, 0.8], marker="o")
    ax.set_title(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=60)


def write_wav(path: Path, seconds: float = 0.3, rate: int = 8000) -> None:
    """A 440 Hz tone, 16-bit mono."""
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * 440 * t / rate)))
        for t in range(int(seconds * rate))
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(frames)


def write_heatmap(path: Path) -> None:
    cells = [[0.9, 0.1, 0.0], [0.1, 0.7, 0.2], [0.0, 0.2, 0.8]]
    rows = "".join(
        "<tr>" + "".join(f'<td style="background: rgba(20, 80, 160, {v})">{v:.1f}</td>'
                         for v in row) + "</tr>"
        for row in cells
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEATMAP.format(rows=rows), encoding="utf-8")


REPORT = """# {experiment} — a fabricated run

Preset `{preset}`. The table holds what was measured:

| model | loss | claim |
|---|---|---|
| lstm | 0.123 | PASS |
| rnn | 1.456 | FAIL |

![loss curve](figures/loss.png)

See the [configuration](config.json) and the [paper](https://example.org/paper) (not linked).
A <b>raw tag</b> stays text.
"""


def make_run(
    folder: Path,
    experiment: str = "product",
    preset: str = "quick",
    started: str = "2026-12-01T20:00:00+0000",
    summary: str = "ok",
    trainings: tuple[str, ...] = (),
    caption: str = "loss against step",
    status: str = "completed",
) -> Path:
    """A run folder at ``folder``. ``summary``: "ok" (written through the Summary
    dataclass), "none" (a run killed before it finished) or "damaged" (not JSON).
    ``trainings`` names sub-trainings with their own metrics; without any, the run has a
    top-level metrics.jsonl."""
    folder.mkdir(parents=True)
    settings = {"data": {"batch_size": 8, "path": ""}, "model": {"hidden_size": 2}, "seed": 0}
    write_json(folder / "config.json",
               {"experiment": experiment, "preset": preset, "config": settings})  # fmt: skip
    write_json(folder / "env.json", {"seqlab": "0.1.0", "git_commit": "abc1234", "torch": "2.13.0",
                                     "device": "cpu", "started": started})  # fmt: skip
    if trainings:
        for name in trainings:
            write_metrics(folder / "trainings" / name / "metrics.jsonl")
    else:
        write_metrics(folder / "metrics.jsonl")
    write_figure(folder / "figures" / "loss.png", f"{experiment} loss")
    write_figure(folder / "figures" / "weights.png", "weights")
    write_wav(folder / "audio" / "tone.wav")
    write_heatmap(folder / "alignment.html")
    (folder / "sample.txt").write_text("ROMEO:\nBut soft, <what> light & shade.\n")
    (folder / "report.md").write_text(REPORT.format(experiment=experiment, preset=preset))
    if summary == "damaged":
        (folder / "summary.json").write_text('{"schema": "seqlab.summary/1", "experi')
    elif summary == "ok":
        record = Summary(
            experiment=experiment,
            preset=preset,
            status=status,
            started=started,
            finished=started,
            duration_s=367.2,
            headline=[
                Headline("exact match", 99.5, "%", "target >= 99%", True),
                Headline("validation loss", 1.4702, "nats/char", "unigram 3.30", None),
                Headline("BLEU", 11.12, "BLEU", "fixed context 14.0", False),
                Headline("parameters", 931660),
            ],
            artefacts=[
                Artefact("figures/loss.png", caption),
                Artefact("figures/weights.png", "the learned weights"),
                Artefact("audio/tone.wav", "a 440 Hz tone", "audio"),
                Artefact("alignment.html", "alignment heatmap", "html"),
                Artefact("sample.txt", "a sample", "text"),
                Artefact("metrics.jsonl" if not trainings else "config.json", "raw", "data"),
            ],
            details={"steps": 40, "best": math.nan},
        )
        (folder / "summary.json").write_text(to_json(record.to_dict()), encoding="utf-8")
    return folder
