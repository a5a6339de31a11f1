"""The model-agnostic Trainer: schedule, early stopping, checkpoints, resume."""

import os
import signal

import pytest
import torch
from torch import nn

from seqlab.errors import CheckpointError, ConfigError
from seqlab.train import TrainConfig, Trainer, checkpoint
from seqlab.train.metrics import read_metrics
from seqlab.train.runtime import one_thread
from seqlab.train.schedule import lr_factor
from seqlab.train.trainer import make_optimizer


class Regression:
    """y = x·w* + noise, batches a pure function of the step; a carried running count."""

    items = "rows"

    def __init__(self, valid_losses=None):
        gen = torch.Generator().manual_seed(0)
        self.w = torch.randn(4, 1, generator=gen)
        self.valid_losses = valid_losses

    def train_batch(self, step, ctx):
        gen = torch.Generator().manual_seed(step)
        x = torch.randn(8, 4, generator=gen)
        return x, x @ self.w + 0.1 * torch.randn(8, 1, generator=gen)

    def train_step(self, model, batch, carry):
        x, y = batch
        out = model(x)
        loss = nn.functional.mse_loss(out, y)
        carry = (carry if carry is not None else torch.zeros(())) + out.mean()
        return loss, carry, len(x)

    def evaluate(self, model, ctx):
        if self.valid_losses is not None:
            return {"loss": (self.valid_losses.pop(0), 1)}
        x, y = self.train_batch(10_000, ctx)
        return {"loss": (float(nn.functional.mse_loss(model(x), y, reduction="sum")), len(x))}


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))


def test_cosine_schedule_with_warmup():
    assert lr_factor("cosine", 0.0, 0, 10, 0.1) == pytest.approx(0.1)
    assert lr_factor("cosine", 0.0, 20, 10, 0.1) == pytest.approx(1.0)
    assert lr_factor("cosine", 0.5, 20, 0, 0.1) == pytest.approx(0.55)
    assert lr_factor("cosine", 1.0, 20, 0, 0.1) == pytest.approx(0.1)
    assert lr_factor("linear", 0.25, 5, 0, 0.0) == pytest.approx(0.75)
    assert lr_factor("constant", 0.9, 5, 0, 0.0) == 1.0


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match=r"train.max_steps=0: expected a positive step count"):
        TrainConfig(max_steps=0, time_budget=0)
    with pytest.raises(ConfigError, match="train.optimizer='rmsprop'"):
        TrainConfig(optimizer="rmsprop")


def test_training_lowers_the_loss_and_logs(tmp_path):
    cfg = TrainConfig(lr=0.05, max_steps=60, eval_every=20, checkpoint_every=20, log_every=10)
    result = Trainer(model(), Regression(), cfg, run_dir=tmp_path).fit()
    rows = read_metrics(tmp_path / "metrics.jsonl")
    valid = [r["loss"] for r in rows if r["split"] == "valid"]
    assert [r["step"] for r in rows if r["split"] == "train"] == [10, 20, 30, 40, 50, 60]
    assert len(valid) == 3 and valid[-1] < valid[0] / 5
    assert result.stop_reason == "max_steps" and result.step == 60
    assert (tmp_path / "checkpoint.pt").exists() and (tmp_path / "best.pt").exists()


def test_early_stopping_after_patience_evaluations(tmp_path):
    cfg = TrainConfig(max_steps=1000, eval_every=5, patience=2, log_every=5)
    task = Regression(valid_losses=[3.0, 2.0, 2.5, 2.1, 1.0])
    result = Trainer(model(), task, cfg, run_dir=tmp_path).fit()
    assert result.stop_reason == "early_stopping"
    assert result.step == 20 and result.best_valid_loss == 2.0 and result.best_step == 10


def test_time_budget_stops_the_run():
    cfg = TrainConfig(max_steps=0, time_budget=0.3, eval_every=10_000, log_every=10)
    result = Trainer(model(), Regression(), cfg).fit()
    assert result.stop_reason == "time_budget" and 0.3 <= result.elapsed < 5


class CrashError(Exception):
    pass


def test_resume_reaches_the_same_losses_as_an_uninterrupted_run(tmp_path):
    cfg = TrainConfig(lr=0.02, max_steps=50, eval_every=10, checkpoint_every=15, log_every=5)
    full = Trainer(model(), Regression(), cfg, run_dir=tmp_path / "full").fit()

    def crash_at_step_35(kind, info):
        if kind == "train" and info["step"] == 35:
            raise CrashError

    (tmp_path / "cut").mkdir()
    with pytest.raises(CrashError):
        Trainer(
            model(), Regression(), cfg, run_dir=tmp_path / "cut", on_event=crash_at_step_35
        ).fit()
    assert checkpoint.load(tmp_path / "cut" / "checkpoint.pt")["step"] == 30
    fresh = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 1))  # other weights
    resumed = Trainer(fresh, Regression(), cfg, run_dir=tmp_path / "cut").fit(resume=True)
    a = read_metrics(tmp_path / "full" / "metrics.jsonl")
    b = read_metrics(tmp_path / "cut" / "metrics.jsonl")
    assert [(r["step"], r["split"]) for r in a] == [(r["step"], r["split"]) for r in b]
    for ra, rb in zip(a, b, strict=True):
        assert ra["loss"] == pytest.approx(rb["loss"], rel=1e-6, abs=1e-9)
    assert resumed.valid["loss"] == pytest.approx(full.valid["loss"], rel=1e-6)
    for pa, pb in zip(full_params(tmp_path / "full"), full_params(tmp_path / "cut"), strict=True):
        torch.testing.assert_close(pa, pb)


def full_params(run_dir):
    return list(checkpoint.load(run_dir / "checkpoint.pt")["model"].values())


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    checkpoint.save({"step": 1}, path)

    def fail(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(OSError):
        checkpoint.save({"step": 2}, path)
    monkeypatch.undo()
    assert checkpoint.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left


def test_corrupt_and_foreign_checkpoints_are_clear_errors(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(tmp_path / "bad.pt")
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="is not a seqlab-checkpoint"):
        checkpoint.load(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        checkpoint.load(tmp_path / "missing.pt")


def test_resume_rejects_another_configuration(tmp_path):
    cfg = TrainConfig(max_steps=10, eval_every=5, checkpoint_every=5)
    Trainer(model(), Regression(), cfg, run_dir=tmp_path, fingerprint={"hidden": 8}).fit()
    other = Trainer(model(), Regression(), cfg, run_dir=tmp_path, fingerprint={"hidden": 16})
    with pytest.raises(CheckpointError, match=r"different configuration \(differs in \['hidden'\]"):
        other.fit(resume=True)
    wider = Trainer(nn.Linear(4, 1), Regression(), cfg, run_dir=tmp_path, fingerprint={"hidden": 8})
    with pytest.raises(CheckpointError, match="does not fit this model") as err:
        wider.fit(resume=True)
    assert "\n" not in str(err.value)  # torch's message is one line per tensor


def test_ctrl_c_stops_after_the_step_with_a_checkpoint_of_it(tmp_path):
    cfg = TrainConfig(max_steps=100, eval_every=1000, checkpoint_every=1000, log_every=1)
    trainer = Trainer(model(), Regression(), cfg, run_dir=tmp_path)
    updates = []

    def ctrl_c_after_the_update(optimizer, args, kwargs):
        # The worst moment: weights updated, the step not yet counted.
        updates.append(1)
        if len(updates) == 7:
            os.kill(os.getpid(), signal.SIGINT)

    trainer.optimizer.register_step_post_hook(ctrl_c_after_the_update)
    # The process's own handler: Python's default, or SIG_IGN in a job started in the
    # background without job control (`nohup make test &`).
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    state = checkpoint.load(tmp_path / "checkpoint.pt")
    assert state["step"] == 7
    assert all(int(p["step"]) == 7 for p in state["optimizer"]["state"].values())  # Adam agrees
    assert signal.getsignal(signal.SIGINT) is before  # handler restored


def test_sgd_with_momentum_is_plain_torch_sgd():
    cfg = TrainConfig(optimizer="sgd", lr=0.1, momentum=0.5)
    opt = make_optimizer([torch.nn.Parameter(torch.zeros(2))], cfg)
    assert isinstance(opt, torch.optim.SGD)
    assert opt.defaults["lr"] == 0.1 and opt.defaults["momentum"] == 0.5
    with pytest.raises(ConfigError, match="train.momentum=1.0"):
        TrainConfig(optimizer="sgd", momentum=1.0)


def test_one_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
