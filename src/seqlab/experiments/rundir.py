"""Run folders: where an experiment leaves its configuration, environment, metrics, checkpoints,
figures, summary and report — and the few calls every experiment ends with.

    runs/charlm-20261126-153000/
        config.json      {"experiment", "preset", "config"}: everything needed to rebuild it
        env.json         seqlab/torch/python versions, git commit, device, processes, seed
        metrics.jsonl    one row per logged step or evaluation (trainings/NAME/ for sweeps)
        checkpoint.pt    the latest state (resume); best.pt: the best validation weights
        figures/*.png    summary.json (the schema of seqlab.report.summary)   report.md

An experiment saves its figures with :meth:`Run.save_figure` (and any other file a person
should see with :meth:`Run.add_artefact`), then ends with :meth:`Run.finish`: the headline
results, its own numbers and the report. Only rank 0 of a distributed run writes; the others
get the folder's path from it. While a run is alive its folder is locked (``.lock``), so a
second ``--resume`` of it is refused.
"""

import json
import os
import platform
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from .. import __version__, config
from ..errors import CheckpointError, ConfigError
from ..files import atomic_write_text
from ..report.summary import SUMMARY, Artefact, Headline, Summary, read_summary, to_json
from ..train import distributed
from ..train.distributed import Context
from .registry import Experiment, get

LOCK = ".lock"
SEED_LIMIT = 2**63  # torch and the data streams take seeds in [0, 2**63)


@dataclass
class Finished:
    """What :meth:`Run.finish` wrote, and what the CLI prints of it."""

    summary: dict
    lines: list[str]
    hints: list[str]


@dataclass
class Run:
    """One run of one experiment: its folder, configuration and process context.

    ``resume``: the folder existed (``--resume``); ``status``: what its last session left in
    ``summary.json`` (None: no summary yet). ``created``: the topmost folder this run made,
    removed again if set-up fails before anything was trained (None: the folder was there).
    """

    experiment: Experiment
    preset: str
    cfg: object
    dir: Path
    ctx: Context
    resume: bool = False
    status: str | None = None
    created: Path | None = None
    artefacts: list[Artefact] = field(default_factory=list)
    earlier_duration: float = 0.0  # wall seconds of earlier sessions (from their summary)
    session_start: float = field(default_factory=time.monotonic)

    @property
    def figures(self) -> Path:
        path = self.dir / "figures"
        if self.ctx.main:
            path.mkdir(exist_ok=True)
        return path

    # -- files ----------------------------------------------------------------------------------
    def write_text(self, name: str, text: str) -> Path:
        """Write ``name`` in the run folder atomically (rank 0 only)."""
        path = self.dir / name
        if self.ctx.main:
            atomic_write_text(path, text)
        return path

    def write_json(self, name: str, obj) -> Path:
        """Strict, indented JSON (non-finite numbers as null) in the run folder."""
        return self.write_text(name, to_json(obj))

    def add_artefact(self, path: Path | str, caption: str, kind: str = "figure") -> Path:
        """List a file of the run folder (written by the experiment) in the summary."""
        path = Path(path)
        try:
            relative = path.relative_to(self.dir)
        except ValueError:  # given relative to the run folder already
            relative = path
        self.artefacts = [a for a in self.artefacts if a.path != relative.as_posix()]
        self.artefacts.append(Artefact(relative.as_posix(), caption, kind))
        return self.dir / relative

    def save_figure(self, fig, name: str, caption: str, dpi: int = 120) -> Path:
        """Save ``fig`` as ``figures/NAME`` (rank 0), close it, and list it with ``caption``."""
        path = self.figures / name
        if self.ctx.main:
            fig.savefig(path, dpi=dpi)
        plt.close(fig)
        return self.add_artefact(path, caption, "figure")

    # -- the end --------------------------------------------------------------------------------
    def finish(
        self,
        headline: list[Headline],
        details: dict,
        report: str,
        lines: list[str] | None = None,
        hints: list[str] | None = None,
    ) -> Finished:
        """Write ``report.md`` and a completed ``summary.json``; the lines the CLI prints (the
        headline's, unless the experiment gives its own) and hints (what to try next)."""
        if self.ctx.main:
            self.write_text("report.md", report)
        record = self.write_summary("completed", headline=headline, details=details)
        shown = lines if lines is not None else [h.text() for h in headline]
        return Finished(record, list(shown), list(hints or []))

    def write_summary(
        self,
        status: str,
        message: str = "",
        headline: list[Headline] | None = None,
        details: dict | None = None,
    ) -> dict:
        """``summary.json`` with ``status`` (see :mod:`seqlab.report.summary`); rank 0 writes."""
        summary = Summary(
            experiment=self.experiment.name,
            preset=self.preset,
            status=status,
            message=message,
            started=self._started(),
            finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            duration_s=round(self.earlier_duration + time.monotonic() - self.session_start, 1),
            headline=list(headline or []),
            artefacts=[a for a in self.artefacts if (self.dir / a.path).exists()],
            details=details or {},
        )
        record = summary.to_dict()
        if self.ctx.main:
            self.write_json(SUMMARY, record)
        return record

    def _started(self) -> str:
        try:
            return json.loads((self.dir / "env.json").read_text(encoding="utf-8"))["started"]
        except (OSError, ValueError, KeyError, TypeError):
            return ""

    # -- the lock -------------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the folder's lock (rank 0), or a CheckpointError naming the live process that
        holds it. A lock left by a process that no longer runs is taken over."""
        if not self.ctx.main:
            return
        path = self.dir / LOCK
        mine = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read_lock(path)
                if holder is not None and _alive(holder):
                    since = time.strftime("%H:%M:%S", time.localtime(holder.get("since", 0)))
                    raise CheckpointError(
                        f"{self.dir} is in use by seqlab process {holder['pid']} on "
                        f"{holder['host']} (since {since}); wait for it to end or stop it "
                        f"(kill {holder['pid']}), then resume"
                    ) from None
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(mine, f)
            return
        raise CheckpointError(f"could not lock {self.dir}: {path} keeps reappearing")

    def unlock(self) -> None:
        if self.ctx.main:
            holder = _read_lock(self.dir / LOCK)
            if holder is not None and holder.get("pid") == os.getpid():
                (self.dir / LOCK).unlink(missing_ok=True)

    def remove_created(self) -> None:
        """Undo a set-up that failed: remove the folders this run created, or, in a folder the
        user made, the files it wrote there."""
        if not self.ctx.main or self.resume:
            return
        if self.created is not None:
            shutil.rmtree(self.created, ignore_errors=True)
            return
        for name in ("config.json", "env.json", LOCK):
            (self.dir / name).unlink(missing_ok=True)


def _read_lock(path: Path) -> dict | None:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None
    except (OSError, ValueError):
        return None


def _alive(holder: dict) -> bool:
    """Whether the lock's process still runs (another host's is assumed alive)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def environment(ctx: Context, seed: int) -> dict:
    return {
        "seqlab": __version__,
        "git_commit": _git_commit(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(ctx.device),
        "processes": ctx.world,
        "threads": torch.get_num_threads(),
        "seed": seed,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def default_dir(name: str) -> Path:
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def check_seed(cfg) -> None:
    seed = getattr(cfg, "seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"seed={seed!r}: expected an integer in [0, 2**63)")


def _make_folder(path: Path) -> Path | None:
    """Create ``path`` (and missing parents); the topmost folder created (None: it existed).
    An OS error becomes a one-line ConfigError naming the folder."""
    missing = [p for p in (path, *path.parents) if not p.exists()][::-1]
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".seqlab-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        for p in reversed(missing):
            if p.exists():
                shutil.rmtree(p, ignore_errors=True)
        raise ConfigError(
            f"cannot use {path} as the run folder ({err.strerror or err}); choose a writable --out"
        ) from None
    return missing[0] if missing else None


def start(experiment: Experiment, preset: str | None, cfg, out: str | None, ctx: Context) -> Run:
    """A new run of configuration ``cfg`` (built from ``preset``) in a fresh folder."""
    preset = preset or experiment.default_preset
    check_seed(cfg)
    path = Path(out) if out else default_dir(experiment.name)
    created = None
    if ctx.main:
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            how = (
                f"continue that run with `seqlab run {experiment.name} --resume {path}`"
                if (path / "config.json").exists()
                else "or empty it"
            )
            raise ConfigError(f"{path} already exists and is not empty; pick another --out, {how}")
        created = _make_folder(path)
    run = Run(experiment, preset, cfg, Path(distributed.broadcast_object(str(path), ctx)), ctx)
    run.created = created
    run.lock()
    record = {"experiment": experiment.name, "preset": preset, "config": config.to_dict(cfg)}
    run.write_json("config.json", record)
    run.write_json("env.json", environment(ctx, getattr(cfg, "seed", None)))
    return run


def read_config(path: Path) -> dict:
    """A run folder's ``config.json``; a CheckpointError when it is missing or damaged."""
    file = Path(path) / "config.json"
    if not Path(path).is_dir():
        raise CheckpointError(f"{path} is not a run folder (no such directory)")
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
        record["experiment"], record["config"]  # noqa: B018 - both keys must exist
    except FileNotFoundError:
        raise CheckpointError(f"{path} is not a run folder: it has no config.json") from None
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{file} is damaged ({err}); it cannot be resumed") from None
    return record


def reopen(path: str, ctx: Context, expect: str | None = None) -> Run:
    """An existing run, to resume or to use (sample, translate); ``expect`` names the
    experiment it must be."""
    record = read_config(Path(path))
    experiment = get(record["experiment"])
    if expect is not None and experiment.name != expect:
        raise CheckpointError(
            f"{path} is a run of {experiment.name!r}, not {expect!r}; "
            f"resume it with `seqlab run {experiment.name} --resume {path}`"
        )
    cfg = config.from_dict(experiment.config_class, record["config"], f"{path}/config.json")
    check_seed(cfg)
    run = Run(experiment, record.get("preset", "?"), cfg, Path(path), ctx, resume=True)
    summary = read_summary(run.dir) if ctx.main else None
    if summary is not None:
        run.status = summary["status"]
        run.earlier_duration = summary["duration_s"]
        run.artefacts = [Artefact(a["path"], a["caption"], a["kind"]) for a in summary["artefacts"]]
    return run


def remove_leftovers(folder: Path) -> list[Path]:
    """Temporary files an atomic write left when its process was killed mid-write."""
    found = [p for p in Path(folder).rglob(".*.tmp") if p.is_file()]
    for p in found:
        p.unlink(missing_ok=True)
    return found
