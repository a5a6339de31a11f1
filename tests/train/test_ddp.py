"""Two CPU processes under torchrun (gloo): in sync, equal to one process, resumable."""

import json
import subprocess
import sys
import time

import pytest

from seqlab import cli
from seqlab.train import checkpoint
from seqlab.train.metrics import read_metrics


def test_two_processes_train_like_one(corpus_file, tmp_path):
    settings = [
        "run",
        "charlm",
        "--preset",
        "quick",
        "--set",
        f"data.path={corpus_file}",
        "--set",
        "data.batch_size=8",
        "--set",
        "data.chunk_length=32",
        "--set",
        "train.max_steps=40",
        "--set",
        "train.eval_every=20",
        "--quiet",
    ]
    ddp = tmp_path / "ddp"
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "seqlab.cli",
        *settings,
        "--out",
        str(ddp),
    ]
    done = subprocess.run(launch, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("seqlab 0.1.0 · charlm") == 1  # only rank 0 reports

    env = json.loads((ddp / "env.json").read_text())
    assert env["processes"] == 2
    valid = [r for r in read_metrics(ddp / "metrics.jsonl") if r["split"] == "valid"]
    assert [r["step"] for r in valid] == [20, 40]
    assert all(r["rank_param_spread"] == 0.0 for r in valid)  # replicas identical

    one = tmp_path / "one"
    assert cli.main([*settings, "--out", str(one)]) == 0
    single = [r for r in read_metrics(one / "metrics.jsonl") if r["split"] == "valid"]
    # Same global batch, gradients averaged over ranks: the same training up to rounding.
    for a, b in zip(valid, single, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)


def test_two_processes_resume_after_a_kill_like_an_uninterrupted_run(corpus_file, tmp_path):
    settings = [
        "run",
        "charlm",
        "--preset",
        "quick",
        "--set",
        f"data.path={corpus_file}",
        "--set",
        "data.batch_size=8",
        "--set",
        "data.chunk_length=32",
        "--set",
        "train.max_steps=300",
        "--set",
        "train.eval_every=100",
        "--set",
        "train.checkpoint_every=50",
        "--set",
        "model.num_layers=2",
        "--set",
        "model.dropout=0.1",
        "--quiet",
    ]
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "seqlab.cli",
    ]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    with (tmp_path / "log.txt").open("wb") as log:
        proc = subprocess.Popen([*launch, *settings, "--out", str(killed)], stdout=log, stderr=log)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        rows = read_metrics(killed / "metrics.jsonl") if (killed / "metrics.jsonl").exists() else []
        if rows and rows[-1]["step"] >= 120:
            break
        time.sleep(0.05)
    assert proc.poll() is None, (tmp_path / "log.txt").read_text()[-2000:]
    # The launcher and both ranks (torchrun starts the ranks in sessions of their own).
    subprocess.run(["pkill", "-KILL", "-f", str(killed)], check=True)
    proc.wait()
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-f", str(killed)], capture_output=True).returncode == 1
    assert 50 <= checkpoint.load(killed / "checkpoint.pt")["step"] < 300

    for argv in (
        ["run", "charlm", "--resume", str(killed), "--quiet"],
        [*settings, "--out", str(whole)],
    ):
        done = subprocess.run([*launch, *argv], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    a, b = read_metrics(whole / "metrics.jsonl"), read_metrics(killed / "metrics.jsonl")
    assert [(r["step"], r["split"]) for r in a] == [(r["step"], r["split"]) for r in b]
    for ra, rb in zip(a, b, strict=True):
        assert rb["loss"] == pytest.approx(ra["loss"], rel=1e-5), ra["step"]
