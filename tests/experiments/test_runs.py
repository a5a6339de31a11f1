"""Runs that never lie and never dead-end: finished runs stay finished, divergence stops a run,
a run killed at any moment resumes (or restarts) to the uninterrupted run's numbers, a live run
is locked, and what the operating system refuses is a one-line error."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqlab.experiments import charlm, rundir
from seqlab.report.summary import read_summary
from seqlab.train import checkpoint

from ..runs import CLI, assert_same_losses, charlm_args, ctrl_c_at_update, run_cli, wait_for_step
from .conftest import copy_run, killed_while_reporting


@pytest.fixture
def charlm_run(quick_runs):
    return quick_runs("charlm")


# -- 5. a finished run ----------------------------------------------------------------------------
def test_resuming_a_finished_run_says_so_and_changes_nothing(charlm_run, tmp_path, capsys):
    run = copy_run(charlm_run, tmp_path / "done")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert run_cli("run", "charlm", "--resume", run) == 0
    assert "has finished (its summary says completed): nothing to resume" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_a_run_killed_after_training_redoes_only_its_report(charlm_run, tmp_path):
    """No second validation, no duplicate metrics row, the same training loss (not NaN)."""
    before = read_summary(charlm_run)
    run = killed_while_reporting(charlm_run, tmp_path / "cut")
    metrics = (run / "metrics.jsonl").read_text()
    assert run_cli("run", "charlm", "--resume", run, "--quiet") == 0
    assert (run / "metrics.jsonl").read_text() == metrics
    after = read_summary(run)
    assert after["status"] == "completed"
    for key in ("train_loss", "valid_loss", "best_valid_loss", "steps", "sample"):
        assert after["details"][key] == before["details"][key], key
    assert after["headline"] == before["headline"]
    assert "n/a" not in (run / "report.md").read_text()


# -- 6. divergence --------------------------------------------------------------------------------
def test_a_diverging_run_stops_says_why_and_exits_non_zero(corpus_file, tmp_path, capsys):
    out = tmp_path / "diverged"
    code = run_cli(*charlm_args(corpus_file, train__lr=1e4, train__max_steps=60), "--out", out)
    assert code == 3
    err = capsys.readouterr().err
    assert "diverged at step" in err and "exploding gradients" in err and "lower train.lr" in err
    summary = read_summary(out)  # valid JSON, the schema's fields
    assert summary["status"] == "diverged" and "exploding" in summary["message"]
    assert "NaN" not in (out / "summary.json").read_text()
    assert not (out / "report.md").exists() and not (out / "sample.txt").exists()


@pytest.mark.parametrize("value", ["inf", "nan", "-1"])
def test_a_learning_rate_that_is_not_a_positive_number_is_refused(value, tmp_path, capsys):
    assert run_cli("run", "charlm", "--set", f"train.lr={value}", "--out", tmp_path / "r") == 2
    assert "train.lr=" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


# -- 7. killed at any moment ----------------------------------------------------------------------
def _start(settings, out: Path, resume: bool = False) -> subprocess.Popen:
    argv = ["run", "charlm", "--resume", str(out), "--quiet"] if resume else [*settings, "--out"]
    argv += [] if resume else [str(out)]
    return subprocess.Popen([*CLI, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_kills_at_random_moments_then_resume_end_like_an_uninterrupted_run(corpus_file, tmp_path):
    settings = charlm_args(
        corpus_file, train__max_steps=120, train__checkpoint_every=25, train__eval_every=40
    )
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert run_cli(*settings, "--out", whole) == 0
    # Right after config.json (before the vocabulary, metrics or any checkpoint) ...
    proc = _start(settings, killed)
    deadline = time.monotonic() + 60
    while not (killed / "config.json").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    _kill(proc)
    # ... then at random steps: before the first checkpoint, and after a few.
    rng = random.Random(0)
    for step in sorted(rng.sample(range(3, 24), 1) + rng.sample(range(30, 110), 2)):
        proc = _start(settings, killed, resume=True)
        wait_for_step(killed, step, proc)
        _kill(proc)
    leftover = killed / ".checkpoint.pt.x1y2.tmp"  # what a kill during a write leaves
    leftover.write_bytes(b"half a checkpoint")
    assert run_cli("run", "charlm", "--resume", killed, "--quiet") == 0
    assert not leftover.exists()
    assert_same_losses(whole, killed)
    a, b = read_summary(whole)["details"], read_summary(killed)["details"]
    assert b["train_loss"] == a["train_loss"] and b["best_valid_loss"] == a["best_valid_loss"]


def test_a_run_stopped_before_its_first_checkpoint_restarts_on_resume(corpus_file, tmp_path):
    settings = charlm_args(corpus_file, train__max_steps=40, train__checkpoint_every=1000)
    out = tmp_path / "early"
    proc = _start(settings, out)
    wait_for_step(out, 10, proc)
    _kill(proc)
    assert not (out / "checkpoint.pt").exists()
    # starting again is refused with the way out, and that way out works
    assert run_cli(*settings, "--out", out) == 2
    assert run_cli("run", "charlm", "--resume", out, "--quiet") == 0
    assert read_summary(out)["status"] == "completed"
    steps = [r["step"] for r in json_rows(out) if r["split"] == "train"]
    assert steps == list(range(5, 45, 5))  # each logged step once, from the restart


def test_ctrl_c_between_logs_resumes_to_the_same_training_losses(corpus_file, tmp_path):
    """The logging window open at the interrupt is kept, so the next logged mean is exact."""
    settings = charlm_args(corpus_file, train__max_steps=30, train__log_every=5)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert run_cli(*settings, "--out", whole) == 0
    with ctrl_c_at_update(13):  # mid-window: steps 11-13 of the window 11-15
        assert run_cli(*settings, "--out", cut) == 130
    assert read_summary(cut)["status"] == "interrupted"
    assert run_cli("run", "charlm", "--resume", cut, "--quiet") == 0
    assert_same_losses(whole, cut)
    a = [r["loss"] for r in json_rows(whole) if r["split"] == "train"]
    b = [r["loss"] for r in json_rows(cut) if r["split"] == "train"]
    assert a == b  # bit for bit, not just close


def json_rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


# -- 8. one process per run folder, and the data it started with ----------------------------------
def test_a_live_run_locks_its_folder(charlm_run, tmp_path, capsys):
    run = killed_while_reporting(charlm_run, tmp_path / "locked")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = {"pid": sleeper.pid, "host": os.uname().nodename, "since": time.time()}
        (run / rundir.LOCK).write_text(json.dumps(lock))
        assert run_cli("run", "charlm", "--resume", run, "--quiet") == 2
        err = capsys.readouterr().err
        assert f"in use by seqlab process {sleeper.pid}" in err and f"kill {sleeper.pid}" in err
    finally:
        sleeper.kill()
        sleeper.wait()
    # its process gone, the lock is stale: taken over, and released at the end
    assert run_cli("run", "charlm", "--resume", run, "--quiet") == 0
    assert not (run / rundir.LOCK).exists()


def test_resuming_on_changed_training_data_is_refused(corpus_file, tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(corpus_file.read_text())
    settings = charlm_args(corpus, train__max_steps=100_000, train__checkpoint_every=10)
    out = tmp_path / "run"
    with ctrl_c_at_update(12):
        assert run_cli(*settings, "--out", out) == 130
    corpus.write_text(corpus_file.read_text().replace("love", "hate"))
    assert run_cli("run", "charlm", "--resume", out, "--quiet") == 2
    assert "the training data changed since" in capsys.readouterr().err


# -- 9. the operating system and edge values ------------------------------------------------------
@pytest.mark.parametrize("where", ["/proc/seqlab-run", "a-file/run"])
def test_an_impossible_out_folder_is_a_one_line_error(where, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("a-file").write_text("not a folder")
    assert run_cli("run", "product", "--preset", "quick", "--out", where) == 2
    err = capsys.readouterr().err
    assert err.startswith("seqlab: error: cannot use") and "--out" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_folder_that_stops_taking_writes_is_a_one_line_error(
    corpus_file, tmp_path, monkeypatch, capsys
):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "run" / "checkpoint.pt"))

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", refuse)
    assert run_cli(*charlm_args(corpus_file, train__max_steps=20), "--out", tmp_path / "run") == 2
    err = capsys.readouterr().err
    assert "cannot write the run's files (Permission denied" in err and "--resume" in err


def test_translate_plot_to_an_unwritable_path(quick_runs, capsys):
    run = quick_runs("translate-dates")
    assert run_cli("translate", run, "3 mai 1998", "--plot", "/proc/x/a.png") == 2
    assert "--plot /proc/x/a.png: cannot write it" in capsys.readouterr().err


def test_seeds_beyond_63_bits_and_vanishing_temperatures(charlm_run, tmp_path, capsys):
    assert run_cli("run", "product", "--seed", str(2**64), "--out", tmp_path / "r") == 2
    assert "seed=18446744073709551616: expected an integer in [0, 2**63)" in (
        capsys.readouterr().err
    )
    assert run_cli("sample", charlm_run, "--seed", str(2**64), "--length", "5") == 2
    assert "seed=" in capsys.readouterr().err
    assert run_cli("sample", charlm_run, "--temperature", "1e-45", "--length", "20") == 0
    greedy_text = capsys.readouterr().out
    assert run_cli("sample", charlm_run, "--temperature", "0", "--length", "20") == 0
    assert capsys.readouterr().out == greedy_text  # as good as 0: greedy, no overflow


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("seed", None, "config.json: seed=null: expected an integer (e.g. 64)"),
        ("model", {"hidden_size": "64"}, 'model.hidden_size="64": expected an integer'),
        ("train", {"lr": "fast"}, 'train.lr="fast": expected a number (e.g. 0.003)'),
    ],
)
def test_a_hand_edited_config_is_a_one_line_error(charlm_run, tmp_path, key, value, message,
                                                  capsys):  # fmt: skip
    run = killed_while_reporting(charlm_run, tmp_path / "edited")
    record = json.loads((run / "config.json").read_text())
    if isinstance(value, dict):
        record["config"][key].update(value)
    else:
        record["config"][key] = value
    (run / "config.json").write_text(json.dumps(record))
    assert run_cli("run", "charlm", "--resume", run) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


# -- 10. a person's own folder, streamed samples --------------------------------------------------
def test_a_failed_set_up_leaves_a_persons_own_empty_folder_alone(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    assert run_cli("run", "charlm", "--set", "data.path=/no/such.txt", "--out", mine) == 2
    assert mine.is_dir() and not any(mine.iterdir())
    made = tmp_path / "new" / "deeper"
    assert run_cli("run", "charlm", "--set", "data.path=/no/such.txt", "--out", made) == 2
    assert not (tmp_path / "new").exists()  # what seqlab created, it removes


def test_sample_streams_its_text(charlm_run):
    class Recorder:
        def __init__(self):
            self.pieces = []

        def text(self, text):
            self.pieces.append(text)

        def note(self, text):
            pass

    run = rundir.reopen(str(charlm_run), rundir.Context())
    args = type("Args", (), {"prime": "ROMEO:", "length": 50, "temperature": 0.5, "top_k": 0,
                             "seed": 3})()  # fmt: skip
    out = Recorder()
    assert charlm.sample_command(run, args, out) == 0
    assert out.pieces[0] == "ROMEO:" and len(out.pieces) >= 51  # the prime, then each character
    assert "".join(out.pieces).rstrip("\n") == "".join(out.pieces[:51])
