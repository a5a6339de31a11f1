"""`seqlab run charlm --set model.kind=transformer`: the decoder-only Transformer trains, samples
(with its key/value cache) and resumes after a kill like the recurrent models; a checkpoint of
the other kind of model and a context longer than the positional table are one-line errors."""

import json
import os
import shutil
import signal
import subprocess

import pytest

from seqlab.train import checkpoint

from ..runs import CLI, assert_same_losses, charlm_args, run_cli, wait_for_step

TRANSFORMER = dict(model__kind="transformer", model__hidden_size=32, model__num_layers=2,
                   model__max_len=32, data__eval_chunk_length=32)  # fmt: skip


@pytest.fixture(scope="module")
def transformer_run(tmp_path_factory, corpus_file):
    out = tmp_path_factory.mktemp("charlm-transformer") / "run"
    args = charlm_args(corpus_file, **TRANSFORMER, train__max_steps=60)
    assert run_cli(*args, "--out", out) == 0
    return out


def test_a_transformer_run_learns_and_reports(transformer_run):
    s = json.loads((transformer_run / "summary.json").read_text())
    d = s["details"]
    assert s["status"] == "completed" and d["steps"] == 60
    assert d["best_valid_loss"] < d["unigram_loss"]
    report = (transformer_run / "report.md").read_text()
    assert "2 pre-norm Transformer blocks (d_model 32, 4 heads" in report
    assert len((transformer_run / "sample.txt").read_text()) > 200  # prime + 200 sampled


def test_sampling_a_transformer_run_is_reproducible(transformer_run, capsys):
    texts = []
    for _ in range(2):  # 100 characters: past the 32-position context, so the cache is rebuilt
        assert run_cli("sample", transformer_run, "--length", 100, "--seed", 3) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1] and len(texts[0]) >= 100


def test_a_checkpoint_of_the_other_kind_is_a_one_line_error(transformer_run, quick_runs,
                                                             tmp_path, capsys):  # fmt: skip
    mixed = tmp_path / "mixed"
    shutil.copytree(transformer_run, mixed)
    recurrent = quick_runs("charlm")
    for name in ("best.pt", "checkpoint.pt"):
        shutil.copy(recurrent / name, mixed / name)
    capsys.readouterr()
    assert run_cli("sample", mixed) == 2
    err = capsys.readouterr().err.strip()
    assert "holds a model.kind=rnn model" in err and "model.kind=transformer" in err
    assert len(err.splitlines()) == 1


def test_a_chunk_longer_than_the_context_is_a_config_error(corpus_file, tmp_path, capsys):
    args = charlm_args(corpus_file, **TRANSFORMER | {"data__eval_chunk_length": 64})
    assert run_cli(*args, "--out", tmp_path / "r") == 2
    assert "data.eval_chunk_length=64: expected at most model.max_len=32" in capsys.readouterr().err


def test_resume_after_a_kill_matches_an_uninterrupted_run(corpus_file, tmp_path):
    settings = charlm_args(corpus_file, **TRANSFORMER, train__max_steps=120,
                           train__checkpoint_every=20, train__eval_every=40,
                           model__dropout=0.1)  # fmt: skip
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = subprocess.Popen([*CLI, *settings, "--out", str(killed)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    wait_for_step(killed, 50, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 20 <= checkpoint.load(killed / "checkpoint.pt")["step"] < 120
    assert run_cli("run", "charlm", "--resume", killed, "--quiet") == 0
    assert run_cli(*settings, "--out", whole) == 0
    assert_same_losses(whole, killed)
