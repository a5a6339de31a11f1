"""Two CPU processes under torchrun (gloo): the ranks stay in sync and match one process."""

import json
import subprocess
import sys

import pytest

from seqlab import cli
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
