"""The static gallery of run folders, ``seqlab report``: an index of every run and a page per
run, readable from ``file://`` with no server and nothing fetched from outside.

    from seqlab.report import build_gallery
    gallery = build_gallery([Path("docs/results")], Path("docs/gallery"))
    gallery.index                       # docs/gallery/index.html

The site is built in a temporary sibling of ``out`` and then moved into place, so a failed
build leaves the previous gallery as it was. ``out`` is replaced only if it is empty or a
gallery this function wrote (its index names the generator).
"""

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..errors import InputError
from . import markdown
from .runs import NO_SUMMARY, UNREADABLE, RunRecord, find_runs, slugs
from .site import RunFiles
from .summary import format_value

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
GENERATOR = '<meta name="generator" content="seqlab report">'
STATUS = {  # status -> (what the badge says, its colour class)
    "completed": ("completed", "ok"),
    "interrupted": ("interrupted", "warn"),
    "diverged": ("diverged", "bad"),
    "failed": ("failed", "bad"),
    NO_SUMMARY: ("no summary (stopped before it finished)", "none"),
    UNREADABLE: ("summary unreadable", "bad"),
}
INDEX_HEADLINES = 3


@dataclass
class Gallery:
    """What :func:`build_gallery` wrote: the index, one page per run (in the index's order),
    and what could not be shown (missing files, damaged summaries), one line each."""

    index: Path
    pages: list[Path]
    warnings: list[str] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return len(self.pages)


def build_gallery(sources: list[Path], out: Path) -> Gallery:
    """Write the gallery of every run folder at or under ``sources`` to the folder ``out``.
    An InputError when a source is missing, holds no run folder, or ``out`` is a folder with
    other contents."""
    out = Path(out)
    if out.exists() and not _replaceable(out):
        raise InputError(f"{out} exists and is not a gallery `seqlab report` wrote; give "
                         "another --out, or remove it first")  # fmt: skip
    runs = find_runs([Path(s) for s in sources], skip=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide the site from a web server's user
        warnings = _write_site(tmp, runs)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pages = [out / "runs" / f"{slug}.html" for slug in slugs(runs)]
    return Gallery(index=out / "index.html", pages=pages, warnings=warnings)


def _replaceable(out: Path) -> bool:
    if not out.is_dir():
        return False
    if not any(out.iterdir()):
        return True
    index = out / "index.html"
    return index.is_file() and GENERATOR in index.read_text(encoding="utf-8", errors="replace")


def _write_site(root: Path, runs: list[RunRecord]) -> list[str]:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    warnings: list[str] = []
    rows = []
    (root / "runs").mkdir()
    for run, slug in zip(runs, slugs(runs), strict=True):
        files = RunFiles(root, run, slug, warnings)
        for error in run.errors:
            warnings.append(f"{run.name}: {error}")
        page = run_view(run, files)
        html = env.get_template("run.html").render(
            page=page, root="../", generator=Markup(GENERATOR)
        )
        (root / "runs" / f"{slug}.html").write_text(html, encoding="utf-8")
        rows.append(index_row(run, slug, page, files))
    html = env.get_template("index.html").render(
        rows=rows, counts=_counts(runs), root="", generator=Markup(GENERATOR)
    )
    (root / "index.html").write_text(html, encoding="utf-8")
    shutil.copyfile(TEMPLATES / "style.css", root / "style.css")
    return warnings


def run_view(run: RunRecord, files: RunFiles) -> dict:
    """What the run page shows, with every file copied into the site and every address set."""
    label, tone = STATUS.get(run.status, (run.status, "none"))
    artefacts = []
    for artefact in run.artefacts:
        view = dict(artefact, href=files.copy(artefact["path"]), text=None)
        if view["href"] is not None and artefact["kind"] == "text":
            view["text"] = files.read_text(artefact["path"])
        artefacts.append(view)
    report = None
    if run.report is not None:
        # markdown.render shows the report's own HTML as text: the result is safe to insert
        report = Markup(markdown.render(run.report, files.relink, demote=2))
    return {
        "run": run,
        "title": f"{run.experiment} · {run.preset}",
        "status": label,
        "tone": tone,
        "started": started_text(run),
        "duration": duration_text(run.duration_s),
        "headline": [headline_view(h) for h in run.headline],
        "artefacts": artefacts,
        "report": report,
        "curves": files.curves(),
        "config": flatten(run.config.get("config", run.config)) if run.config else [],
        "env": [(k, _plain(v)) for k, v in (run.env or {}).items()],
        "details": json.dumps(run.details, indent=2, ensure_ascii=False) if run.details else "",
    }


def index_row(run: RunRecord, slug: str, page: dict, files: RunFiles) -> dict:
    """The run's line in the index: its page, a thumbnail of its first figure (or of its
    first loss curve) and its first headline results."""
    thumb = None
    for artefact in page["artefacts"]:
        if artefact["kind"] == "figure" and artefact["href"] is not None:
            source = files.source(artefact["path"])
            thumb = files.thumbnail(source) if source else None
            break
    if thumb is None and page["curves"]:
        thumb = files.thumbnail(page["curves"][0]["file"])
    return {
        "href": f"runs/{slug}.html",
        "thumb": thumb,
        "page": page,
        "headline": page["headline"][:INDEX_HEADLINES],
        "more": max(0, len(page["headline"]) - INDEX_HEADLINES),
    }


def headline_view(headline: dict) -> dict:
    verdict = {True: "PASS", False: "FAIL"}.get(headline.get("passed"))
    return {
        "name": headline["name"],
        "value": format_value(headline.get("value"), headline.get("unit", "")),
        "compared_with": headline.get("compared_with", ""),
        "verdict": verdict,
    }


def started_text(run: RunRecord) -> str:
    date = run.date
    return date.strftime("%Y-%m-%d %H:%M") if date else run.started


def duration_text(seconds: float | None) -> str:
    """``12.3 s``, ``6 min 07 s``, ``2 h 05 min``; empty when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def flatten(config, prefix: str = "") -> list[tuple[str, str]]:
    """Nested settings as ``(dotted key, value)`` rows, the keys ``--set`` takes."""
    if not isinstance(config, dict):
        return [(prefix or "(value)", _plain(config))]
    rows = []
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        nested = isinstance(value, dict) and value
        rows += flatten(value, name) if nested else [(name, _plain(value))]
    return rows


def _plain(value) -> str:
    """A setting as a person reads it: strings bare (the empty one as ``""``), everything else
    as JSON."""
    if isinstance(value, str) and value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _counts(runs: list[RunRecord]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for run in runs:
        label = STATUS.get(run.status, (run.status, ""))[0]
        counts[label] = counts.get(label, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])
