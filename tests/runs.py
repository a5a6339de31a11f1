"""Helpers for tests that start `seqlab run` as a process, stop it, and compare run folders."""

import sys
import time
from pathlib import Path

import pytest

from seqlab.train.metrics import read_metrics

CLI = [sys.executable, "-m", "seqlab.cli"]
TORCHRUN = [
    sys.executable,
    "-m",
    "torch.distributed.run",
    "--standalone",
    "--nproc_per_node=2",
    "-m",
    "seqlab.cli",
]


def charlm_args(corpus: Path, **settings) -> list[str]:
    """`run charlm --preset quick` on ``corpus`` in 8 streams of 32 characters, plus
    ``settings`` as --set overrides (``train__max_steps=40`` -> ``train.max_steps=40``)."""
    pairs = {"data.path": corpus, "data.batch_size": 8, "data.chunk_length": 32}
    pairs |= {key.replace("__", "."): value for key, value in settings.items()}
    args = ["run", "charlm", "--preset", "quick", "--quiet"]
    for key, value in pairs.items():
        args += ["--set", f"{key}={value}"]
    return args


def wait_for_step(run_dir: Path, step: int, proc, timeout: float = 180) -> None:
    """Until ``run_dir``'s metrics reach ``step``; fails if the process ends first."""
    deadline = time.monotonic() + timeout
    metrics = Path(run_dir) / "metrics.jsonl"
    while time.monotonic() < deadline and proc.poll() is None:
        rows = read_metrics(metrics) if metrics.exists() else []
        if rows and rows[-1]["step"] >= step:
            return
        time.sleep(0.02)
    raise AssertionError(f"the run ended or stalled before step {step} (exit {proc.poll()})")


def assert_same_losses(run_a: Path, run_b: Path) -> None:
    """Both runs logged the same rows with the same losses (to 1e-5)."""
    a, b = read_metrics(run_a / "metrics.jsonl"), read_metrics(run_b / "metrics.jsonl")
    assert [(r["step"], r["split"]) for r in a] == [(r["step"], r["split"]) for r in b]
    for ra, rb in zip(a, b, strict=True):
        assert rb["loss"] == pytest.approx(ra["loss"], rel=1e-5), ra["step"]
