"""Two CPU processes under torchrun (gloo): in sync, equal to one process, resumable."""

import json
import subprocess

import pytest

from seqlab import cli
from seqlab.train import checkpoint
from seqlab.train.metrics import read_metrics

from ..runs import TORCHRUN, assert_same_losses, charlm_args, wait_for_step


def test_two_processes_train_like_one(corpus_file, tmp_path):
    settings = charlm_args(corpus_file, train__max_steps=40, train__eval_every=20)
    ddp = tmp_path / "ddp"
    done = subprocess.run(
        [*TORCHRUN, *settings, "--out", str(ddp)], capture_output=True, text=True, timeout=300
    )
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
    settings = charlm_args(
        corpus_file,
        train__max_steps=300,
        train__eval_every=100,
        train__checkpoint_every=50,
        model__num_layers=2,
        model__dropout=0.1,
    )
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    with (tmp_path / "log.txt").open("wb") as log:
        proc = subprocess.Popen(
            [*TORCHRUN, *settings, "--out", str(killed)], stdout=log, stderr=log
        )
    wait_for_step(killed, 120, proc)
    # The launcher and both ranks (torchrun starts the ranks in sessions of their own).
    subprocess.run(["pkill", "-KILL", "-f", str(killed)], check=True)
    proc.wait()
    assert 50 <= checkpoint.load(killed / "checkpoint.pt")["step"] < 300

    for argv in (
        ["run", "charlm", "--resume", str(killed), "--quiet"],
        [*settings, "--out", str(whole)],
    ):
        done = subprocess.run([*TORCHRUN, *argv], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    assert_same_losses(whole, killed)
