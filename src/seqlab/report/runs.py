"""Run folders found on disk and read back into plain records for the gallery.

A run folder is a directory that holds ``config.json`` or ``summary.json``; a folder given to
:func:`find_runs` may be one, or hold any number of them at any depth (``docs/results`` has
``charlm-default/seqlab-gru/...``). Nothing here raises for a damaged run: what could not be
read is kept as an error message on the record, so one broken run never hides the others.
"""

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import CheckpointError, InputError
from ..files import read_json_lines as read_metrics
from .summary import SUMMARY, read_summary

log = logging.getLogger(__name__)

MARKERS = ("config.json", SUMMARY)
# Status of a run with no readable summary, beside the schema's STATUSES.
NO_SUMMARY = "no summary"
UNREADABLE = "unreadable summary"


@dataclass
class RunRecord:
    """Everything the gallery shows of one run folder.

    ``name`` is the folder's path relative to the source it was found under (the source's own
    name when the source is the run folder); ``trainings`` maps a training's name ("" for the
    run's own ``metrics.jsonl``, else the folder name under ``trainings/``) to its metrics rows.
    ``artefacts`` are the summary's (dicts with path, kind, caption) or, without a readable
    summary, the PNGs found under ``figures/``."""

    dir: Path
    name: str
    experiment: str = "?"
    preset: str = "?"
    status: str = NO_SUMMARY
    message: str = ""
    started: str = ""
    duration_s: float | None = None
    headline: list[dict] = field(default_factory=list)
    artefacts: list[dict] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    config: dict | None = None
    env: dict | None = None
    report: str | None = None
    trainings: dict[str, list[dict]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def date(self) -> datetime | None:
        """When the run started, parsed from ``started`` (None if absent or not a date)."""
        for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"):
            try:
                return datetime.strptime(self.started, fmt)
            except ValueError:
                continue
        return None

    def sort_key(self) -> tuple:
        """Experiment, then start date (undated runs last), then folder name."""
        date = self.date
        return (self.experiment, date is None, date.timestamp() if date else 0.0, self.name)


def find_runs(sources: list[Path], skip: Path | None = None) -> list[RunRecord]:
    """The run folders at or under each of ``sources``, read (see :func:`read_run`) and sorted
    by experiment then date. ``skip`` (the gallery being written) is never searched. An
    InputError when a source does not exist or no run folder is found at all."""
    found: dict[Path, tuple[Path, str]] = {}  # resolved path -> (path as found, name)
    for source in map(Path, sources):
        if not source.exists():
            raise InputError(f"{source}: no such file or folder; give run folders or folders "
                             "that hold them")  # fmt: skip
        for run_dir in _run_dirs(source, skip.resolve() if skip else None):
            name = run_dir.relative_to(source).as_posix() if run_dir != source else source.name
            found.setdefault(run_dir.resolve(), (run_dir, name or source.resolve().name))
    if not found:
        where = ", ".join(map(str, sources))
        raise InputError(f"no run folder found in {where} (a run folder holds config.json or "
                         "summary.json, as `seqlab run` leaves it)")  # fmt: skip
    return sorted((read_run(*found) for found in found.values()), key=RunRecord.sort_key)


def _run_dirs(folder: Path, skip: Path | None):
    """Run folders at or under ``folder``, not descending into a run folder (its
    ``trainings/*`` are parts of it) nor into hidden folders or ``skip``."""
    if skip is not None and folder.resolve() == skip:
        return
    if any((folder / marker).is_file() for marker in MARKERS):
        yield folder
        return
    for child in sorted(folder.iterdir()):
        if child.is_dir() and not child.name.startswith(".") and not child.is_symlink():
            yield from _run_dirs(child, skip)


def read_run(run_dir: Path, name: str) -> RunRecord:
    """The record of one run folder; whatever cannot be read becomes a message in ``errors``
    (and the summary's problem also its ``status``), never an exception."""
    run = RunRecord(dir=Path(run_dir), name=name)
    run.config = _read_json(run, "config.json")
    run.env = _read_json(run, "env.json")
    if run.config is not None:
        run.experiment = str(run.config.get("experiment", run.experiment))
        run.preset = str(run.config.get("preset", run.preset))
    if run.env is not None:
        run.started = str(run.env.get("started", ""))
    try:
        summary = read_summary(run_dir)
    except CheckpointError as err:
        run.status, summary = UNREADABLE, None
        run.errors.append(str(err))
    if summary is not None:
        run.experiment, run.preset = summary["experiment"], summary["preset"]
        run.status, run.message = summary["status"], summary["message"]
        run.started = summary["started"] or run.started
        run.duration_s = summary["duration_s"]
        run.headline, run.artefacts = summary["headline"], summary["artefacts"]
        run.details = summary["details"]
    else:
        figures = sorted((run.dir / "figures").glob("*.png"))
        run.artefacts = [
            {"path": f"figures/{f.name}", "kind": "figure", "caption": f.stem} for f in figures
        ]
    report = run.dir / "report.md"
    if report.is_file():
        run.report = report.read_text(encoding="utf-8", errors="replace")
    run.trainings = read_trainings(run.dir)
    return run


def read_trainings(run_dir: Path) -> dict[str, list[dict]]:
    """Metrics rows of the run's own ``metrics.jsonl`` (key "") and of each
    ``trainings/NAME/metrics.jsonl`` (key NAME), in that order; files without rows are left
    out."""
    files = [("", run_dir / "metrics.jsonl")]
    files += [(p.parent.name, p) for p in sorted(run_dir.glob("trainings/*/metrics.jsonl"))]
    trainings = {}
    for key, path in files:
        if path.is_file():
            rows = [r for r in read_metrics(path) if isinstance(r, dict)]
            if rows:
                trainings[key] = rows
    return trainings


def _read_json(run: RunRecord, filename: str) -> dict | None:
    path = run.dir / filename
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        run.errors.append(f"{path} is damaged ({err})")
        log.warning("%s is damaged: %s", path, err)
        return None
    if not isinstance(record, dict):
        run.errors.append(f"{path} is not a JSON object")
        return None
    return record


def slugs(runs: list[RunRecord]) -> list[str]:
    """A distinct file-name-safe slug per run, made from its name (``charlm-default/seqlab-gru``
    -> ``charlm-default--seqlab-gru``), numbered when two would clash."""
    taken, out = set(), []
    for run in runs:
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", run.name.replace("/", "--")).strip("-.") or "run"
        slug, n = base, 1
        while slug.lower() in taken:  # case-insensitive file systems would merge A and a
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug.lower())
        out.append(slug)
    return out
