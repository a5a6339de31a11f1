"""Helpers for tests that run `seqlab`, in this process or as another, stop it, and compare run
folders."""

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from torch.optim.optimizer import register_optimizer_step_post_hook

from seqlab import cli
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


def run_cli(*argv) -> int:
    """`seqlab ARGV...` in this process (paths and numbers may be passed as they are)."""
    return cli.main(list(map(str, argv)))


@contextlib.contextmanager
def ctrl_c_at_update(update: int):
    """Within the block, send this process SIGINT (Ctrl-C) right after the ``update``-th
    optimiser step of any optimiser: the Trainer then stops after that step, checkpointed."""
    updates = 0

    def interrupt(optimizer, *_):
        nonlocal updates
        updates += 1
        if updates == update:
            os.kill(os.getpid(), signal.SIGINT)

    handle = register_optimizer_step_post_hook(interrupt)
    try:
        yield
    finally:
        handle.remove()


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
