"""The main job end to end: `seqlab run charlm`, resume after a kill, sampling, bad inputs."""

import json
import os
import signal
import subprocess
from dataclasses import dataclass

import pytest
import torch

from seqlab.experiments import REGISTRY, Experiment
from seqlab.train import checkpoint
from seqlab.train.metrics import read_metrics

from ..runs import CLI, assert_same_losses, charlm_args, run_cli, wait_for_step


@pytest.fixture
def quick_run(quick_runs):
    """The real `quick` preset on Shakespeare, through the CLI, once per session."""
    return quick_runs("charlm")


def test_quick_preset_leaves_a_complete_run_folder(quick_run):
    names = {p.name for p in quick_run.iterdir()}
    assert {
        "config.json",
        "env.json",
        "metrics.jsonl",
        "checkpoint.pt",
        "best.pt",
        "vocab.json",
        "report.md",
        "sample.txt",
        "figures",
    } <= names
    assert (quick_run / "figures" / "loss.png").stat().st_size > 10_000
    record = json.loads((quick_run / "config.json").read_text())
    assert record["experiment"] == "charlm" and record["preset"] == "quick"
    env = json.loads((quick_run / "env.json").read_text())
    assert env["torch"] == torch.__version__ and env["processes"] == 1 and env["seed"] == 0
    rows = read_metrics(quick_run / "metrics.jsonl")
    valid = [r["loss"] for r in rows if r["split"] == "valid"]
    summary = json.loads((quick_run / "summary.json").read_text())
    details = summary["details"]
    # It learnt something: better than character frequencies alone, and improving.
    assert valid[-1] < details["unigram_loss"] and valid[-1] < valid[0]
    assert details["valid_loss"] == valid[-1] and details["best_valid_loss"] == min(valid)
    best = summary["headline"][0]
    assert best["value"] == round(min(valid), 4) and best["unit"] == "nats/char"
    assert best["compared_with"] == f"unigram baseline {details['unigram_loss']:.4f}"
    train = [r["loss"] for r in rows if r["split"] == "train"]
    assert details["train_loss"] == train[-1]  # the last logging window's mean
    report = (quick_run / "report.md").read_text()
    assert f"{valid[-1]:.4f} nats" in report and "bits" in report and "![loss]" in report
    assert "over the first 20,000 validation characters only" in report  # the quick preset's cut


def test_sampling_is_reproducible_with_a_seed(quick_run, capsys):
    def sample(*extra):
        assert run_cli("sample", quick_run, "--length", 80, *extra) == 0
        return capsys.readouterr().out

    a, b, c = sample("--seed", 1), sample("--seed", 1), sample("--seed", 2)
    assert a == b and a != c
    assert len(a.rstrip("\n")) >= 80
    primed = sample("--prime", "ROMEO:", "--temperature", "0")
    assert primed.startswith("ROMEO:") and primed == sample("--prime", "ROMEO:", "--top-k", "1")


def test_sample_rejects_unknown_characters_and_non_runs(quick_run, tmp_path, capsys):
    assert run_cli("sample", quick_run, "--prime", "ROMEO 🌹") == 2
    assert "'🌹' are not in the vocabulary" in capsys.readouterr().err
    assert run_cli("sample", tmp_path) == 2
    assert "is not a run folder: it has no config.json" in capsys.readouterr().err


def test_list_shows_the_experiment_and_presets(capsys):
    assert run_cli("list") == 0
    out = capsys.readouterr().out
    assert "charlm" in out
    for preset in ("quick", "demo", "default", "lecture"):
        assert f"--preset {preset}" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["run", "charlm", "--set", "model.hiden_size=3"],
            "unknown key 'model.hiden_size'; valid keys",
        ),
        (["run", "charlm", "--set", "model.hidden_size=big"], "expected a value of type int"),
        (["run", "charlm", "--set", "model.cell=transformer"], "model.cell='transformer'"),
        (["run", "charlm", "--preset", "huge"], "no preset 'huge'; choose one of: quick"),
        (["run", "nope"], "unknown experiment 'nope'"),
        (["run", "charlm", "--set", "data.path=/no/such.txt"], "does not exist"),
        (["run", "charlm", "--device", "tpu"], "device='tpu'"),
    ],
)
def test_bad_runs_are_one_line_errors(argv, message, tmp_path, capsys):
    assert run_cli(*argv, "--out", tmp_path / "r") == 2
    err = capsys.readouterr().err
    assert err.startswith("seqlab: error: ") and message in err
    assert "Traceback" not in err
    assert not (tmp_path / "r").exists()  # nothing trained, no folder left in the way


def test_a_corpus_shorter_than_one_batch(tmp_path, capsys):
    (tmp_path / "short.txt").write_text("To be or not to be.\n" * 20)
    assert (
        run_cli(
            "run", "charlm", "--set", f"data.path={tmp_path / 'short.txt'}", "--out", tmp_path / "r"
        )
        == 2
    )
    assert "fewer than one batch" in capsys.readouterr().err


def test_an_existing_run_folder_is_not_overwritten(quick_run, capsys):
    assert run_cli("run", "charlm", "--preset", "quick", "--out", quick_run) == 2
    assert f"--resume {quick_run}" in capsys.readouterr().err


def test_a_corrupt_checkpoint_is_a_clear_error(quick_run, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "vocab.json"):
        (broken / name).write_bytes((quick_run / name).read_bytes())
    (broken / "checkpoint.pt").write_bytes((quick_run / "checkpoint.pt").read_bytes()[:5000])
    assert run_cli("run", "charlm", "--resume", broken) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err
    assert run_cli("run", "charlm", "--resume", broken, "--set", "train.lr=1") == 2
    assert "drop --preset/--set" in capsys.readouterr().err


def test_resume_after_a_kill_matches_an_uninterrupted_run(corpus_file, tmp_path):
    settings = charlm_args(
        corpus_file,
        train__max_steps=400,
        train__checkpoint_every=20,
        train__eval_every=50,
        model__num_layers=2,
        model__dropout=0.1,
    )
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = subprocess.Popen(
        [*CLI, *settings, "--out", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_step(killed, 90, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 20 <= checkpoint.load(killed / "checkpoint.pt")["step"] < 400
    assert run_cli("run", "charlm", "--resume", killed, "--quiet") == 0
    assert run_cli(*settings, "--out", whole) == 0
    assert_same_losses(whole, killed)
    assert (killed / "report.md").exists()


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(corpus_file, tmp_path):
    out = tmp_path / "interrupted"
    # No periodic checkpoints: one can only come from the interrupt.
    settings = charlm_args(corpus_file, train__max_steps=100_000, train__checkpoint_every=100_000)
    proc = subprocess.Popen(
        [*CLI, *settings, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_step(out, 30, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"seqlab run charlm --resume {out}" in err and "Traceback" not in err
    assert checkpoint.load(out / "checkpoint.pt")["step"] >= 30


def test_a_run_folder_of_another_experiment(tmp_path, monkeypatch, capsys):
    @dataclass(frozen=True)
    class OtherConfig:
        seed: int = 0
        device: str = "auto"

    other = Experiment("other", "a stand-in", {"default": OtherConfig()}, run=lambda *a: {})
    monkeypatch.setitem(REGISTRY, "other", other)
    folder = tmp_path / "other-run"
    folder.mkdir()
    record = {"experiment": "other", "preset": "default", "config": {"seed": 0, "device": "auto"}}
    (folder / "config.json").write_text(json.dumps(record))
    assert run_cli("run", "charlm", "--resume", folder) == 2
    assert "is a run of 'other', not 'charlm'; resume it with `seqlab run other --resume" in (
        capsys.readouterr().err
    )
    assert run_cli("sample", folder) == 2
    assert "'other', which does not offer `seqlab sample`; it works with runs of: charlm" in (
        capsys.readouterr().err
    )
