"""Run folders: where an experiment leaves its configuration, environment, metrics, checkpoints,
figures and report.

    runs/charlm-20261126-153000/
        config.json      {"experiment", "preset", "config"}: everything needed to rebuild it
        env.json         seqlab/torch/python versions, git commit, device, processes, seed
        metrics.jsonl    one row per logged step or evaluation
        checkpoint.pt    the latest state (resume); best.pt: the best validation weights
        figures/*.png    report.md

Only rank 0 of a distributed run writes; the others get the folder's path from it.
"""

import json
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import __version__, config
from ..errors import CheckpointError, ConfigError
from ..files import atomic_write_bytes
from ..train import distributed
from ..train.distributed import Context
from .registry import Experiment, get


@dataclass
class Run:
    """One run of one experiment: its folder, configuration and process context."""

    experiment: Experiment
    preset: str
    cfg: object
    dir: Path
    ctx: Context
    resume: bool = False

    @property
    def figures(self) -> Path:
        path = self.dir / "figures"
        if self.ctx.main:
            path.mkdir(exist_ok=True)
        return path

    def write_text(self, name: str, text: str) -> Path:
        """Write ``name`` in the run folder atomically (rank 0 only)."""
        path = self.dir / name
        if self.ctx.main:
            atomic_write_bytes(path, lambda f: f.write(text.encode("utf-8")))
        return path


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


def start(experiment: Experiment, preset: str | None, cfg, out: str | None, ctx: Context) -> Run:
    """A new run of configuration ``cfg`` (built from ``preset``) in a fresh folder."""
    preset = preset or experiment.default_preset
    path = Path(out) if out else default_dir(experiment.name)
    if ctx.main:
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ConfigError(
                f"{path} already exists and is not empty; pick another --out, "
                f"or continue that run with `seqlab run {experiment.name} --resume {path}`"
            )
        path.mkdir(parents=True, exist_ok=True)
    run = Run(experiment, preset, cfg, Path(distributed.broadcast_object(str(path), ctx)), ctx)
    record = {"experiment": experiment.name, "preset": preset, "config": config.to_dict(cfg)}
    run.write_text("config.json", json.dumps(record, indent=2) + "\n")
    env = environment(ctx, getattr(cfg, "seed", None))
    run.write_text("env.json", json.dumps(env, indent=2) + "\n")
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
    """An existing run, to resume or sample from; ``expect`` names the experiment it must be."""
    record = read_config(Path(path))
    experiment = get(record["experiment"])
    if expect is not None and experiment.name != expect:
        raise CheckpointError(
            f"{path} is a run of {experiment.name!r}, not {expect!r}; "
            f"resume it with `seqlab run {experiment.name} --resume {path}`"
        )
    cfg = config.from_dict(experiment.config_class, record["config"], f"{path}/config.json")
    return Run(experiment, record.get("preset", "?"), cfg, Path(path), ctx, resume=True)
