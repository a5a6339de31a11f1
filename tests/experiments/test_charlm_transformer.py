"""`seqlab run charlm --set model.kind=transformer`: the decoder-only Transformer trains, samples
(with its key/value cache) and resumes after a kill like the recurrent models; a checkpoint of
the other kind of model and a context longer than the positional table are one-line errors."""

import json
import os
import shutil
import signal
import subprocess
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from seqlab.train import checkpoint
from seqlab.train.metrics import read_metrics

from ..runs import CLI, TORCHRUN, assert_same_losses, charlm_args, run_cli, wait_for_step

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


def test_window_evaluation_scores_each_target_once_from_its_own_window():
    """data.eval_stride: windows of 16 every 8 characters; the first window scores all its
    targets, the others their last 8, so every scored target sees >= 8 characters before it."""
    from seqlab.experiments.charlm import PRESETS, CharLMTask
    from seqlab.models.transformer_lm import TransformerLM
    from seqlab.train import Context

    cfg = PRESETS["transformer"]
    cfg = replace(cfg, data=replace(cfg.data, batch_size=4, chunk_length=16,
                                    eval_chunk_length=16, eval_stride=8))  # fmt: skip
    ids = torch.randint(10, (203,), generator=torch.Generator().manual_seed(0))
    task = CharLMTask(ids.repeat(4), ids, cfg)
    torch.manual_seed(0)
    model = TransformerLM(10, 16, 2, 1, max_len=16).eval()
    with torch.no_grad():
        total, count = task.evaluate(model, Context())["loss"]
        expected, scored = 0.0, 0
        for s in range(0, 203 - 16, 8):
            losses = F.cross_entropy(model(ids[None, s : s + 16])[0][0], ids[s + 1 : s + 17],
                                     reduction="none")  # fmt: skip
            expected += float(losses[0 if s == 0 else 8 :].sum())
            scored += 16 if s == 0 else 8
    assert count == scored == 200  # targets 0 … 199, each once
    assert total == pytest.approx(expected, rel=1e-6)


def test_two_processes_train_the_transformer_like_one(corpus_file, tmp_path):
    """DDP as for the recurrent models; the windowed validation splits its windows by rank."""
    settings = charlm_args(corpus_file, **TRANSFORMER, data__eval_stride=16,
                           train__max_steps=20, train__eval_every=10)  # fmt: skip
    ddp, one = tmp_path / "ddp", tmp_path / "one"
    done = subprocess.run([*TORCHRUN, *settings, "--out", str(ddp)], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert run_cli(*settings, "--out", one) == 0
    rows = [[r for r in read_metrics(d / "metrics.jsonl") if r["split"] == "valid"]
            for d in (ddp, one)]  # fmt: skip
    assert [r["step"] for r in rows[0]] == [10, 20]
    assert all(r["rank_param_spread"] == 0.0 for r in rows[0])
    for a, b in zip(*rows, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
