"""`seqlab run topologies` end to end: the run folder, the numbers against what is known in
closed form, the report against the summary, resuming without retraining, bad settings."""

import json
from collections import Counter

import pytest

from seqlab.data import topologies as data
from seqlab.data.synthetic import generator
from seqlab.experiments import sweep
from seqlab.experiments.topologies import PRESETS, TopologiesConfig, train_config
from seqlab.experiments.topologies.problems import PROBLEMS, SPLIT
from seqlab.experiments.topologies.tasks import test as score_test
from seqlab.train import checkpoint

from ...runs import run_cli
from ..conftest import killed_while_reporting

KEYS = ["one_to_one", "one_to_many", "many_to_one", "synced", "seq2seq"]


@pytest.fixture
def quick_run(quick_runs):
    return quick_runs("topologies")


def test_quick_preset_leaves_a_complete_run_folder(quick_run):
    assert {"config.json", "env.json", "summary.json", "report.md", "figures", "trainings"} <= {
        p.name for p in quick_run.iterdir()
    }
    assert (quick_run / "figures" / "topologies.png").stat().st_size > 20_000
    for key in KEYS:  # one resumable training each
        folder = quick_run / "trainings" / key
        assert (folder / "result.json").exists() and (folder / "checkpoint.pt").exists()
    record = json.loads((quick_run / "config.json").read_text())
    assert record["experiment"] == "topologies" and record["preset"] == "quick"


def test_numbers_agree_with_what_is_known_in_closed_form(quick_run):
    summary = json.loads((quick_run / "summary.json").read_text())
    s = summary["details"]
    results = s["results"]
    assert list(results) == KEYS
    for r in results.values():
        assert r["accuracy"] <= r["unit_accuracy"]  # an exact example has every unit right
        assert r["passed"] == (r["accuracy"] >= s["target_accuracy"])
    assert [h["passed"] for h in summary["headline"]] == [r["passed"] for r in results.values()]
    one = results["one_to_one"]
    # One tanh step from z_0 = 0: U multiplies zeros only, so its gradient is exactly zero.
    assert one["weight_hh_grad_norm"] == 0.0
    # The test numbers are the held-out quarter of the 256 8-bit numbers, never trained on.
    _, held_out = data.split_numbers(8, 0.25, generator(0, SPLIT))
    counts = Counter(data.bit_counts(held_out, 8)[1].tolist())
    assert one["test_size"] == 64 and one["seen_in_training"] == 0.0
    assert one["chance"] == max(counts.values()) / 64
    assert results["one_to_many"]["seen_in_training"] == 1.0  # only ten inputs exist
    assert results["one_to_many"]["unseen_accuracy"] is None
    assert s["passed"] == sum(r["passed"] for r in results.values())


def test_the_reported_test_scores_are_the_trained_networks(quick_run):
    """Each network, read back from its final checkpoint and tested again, scores exactly what
    the summary says."""
    results = json.loads((quick_run / "summary.json").read_text())["details"]["results"]
    cfg = PRESETS["quick"]
    assert isinstance(cfg, TopologiesConfig)
    for cls in PROBLEMS:
        sub = getattr(cfg, cls.key)
        problem = cls(sub, cfg, cfg.seed)
        model = problem.build()
        state = checkpoint.load(quick_run / "trainings" / cls.key / "checkpoint.pt")
        model.load_state_dict(state["model"])
        assert state["step"] == train_config(cfg, sub).max_steps
        t = cfg.train
        found = score_test(problem, model, t.test_size, "cpu", sub.steps, t.batch_size)["scores"]
        for key in ("accuracy", "unit_accuracy", "chance", "seen_in_training"):
            assert found[key] == pytest.approx(results[cls.key][key]), (cls.key, key)


def test_quick_trainings_already_learn_the_easy_tasks(quick_run):
    results = json.loads((quick_run / "summary.json").read_text())["details"]["results"]
    one = results["one_to_one"]
    assert one["accuracy"] > one["chance"] + 0.3, one  # 150 steps; chance: the commonest count
    assert results["one_to_many"]["unit_accuracy"] > 0.8, results["one_to_many"]


def test_report_states_the_measured_numbers(quick_run):
    s = json.loads((quick_run / "summary.json").read_text())["details"]
    report = (quick_run / "report.md").read_text()
    assert "![unrolled graphs of the five topologies](figures/topologies.png)" in report
    assert f"**{s['passed']}/5 passed.**" in report
    for r in s["results"].values():
        e = r["example"]
        row = next(line for line in report.splitlines() if line.startswith(f"| {r['topology']} |"))
        assert f"`{e['input']}` → `{e['output']}` (`{e['target']}`)" in row
        assert f"| {r['accuracy']:.1%} |" in row and f"| {r['chance']:.1%} |" in row
        unseen = "—" if r["unseen_accuracy"] is None else f"{r['unseen_accuracy']:.1%}"
        assert f"| {r['seen_in_training']:.0%} | {unseen} |" in row
        assert row.endswith("| PASS |" if r["passed"] else "| FAIL |")


def test_resume_after_the_trainings_reports_the_same_without_training(
    quick_run, tmp_path, monkeypatch, capsys
):
    before = json.loads((quick_run / "summary.json").read_text())
    run = killed_while_reporting(quick_run, tmp_path / "topologies")

    def no_training(*args, **kwargs):
        raise AssertionError("a finished training was trained again")

    monkeypatch.setattr(sweep, "Trainer", no_training)
    assert run_cli("run", "topologies", "--resume", run, "--quiet") == 0
    after = json.loads((run / "summary.json").read_text())
    assert after["details"] == before["details"] and after["headline"] == before["headline"]
    out = capsys.readouterr().out
    assert "topologies reach 95% exact-match test accuracy" in out
    assert out.count("PASS: ") + out.count("FAIL: ") == 5


@pytest.mark.parametrize(
    "setting, message",
    [
        ("seq2seq.min_length=9", "seq2seq.min_length=9: expected <= seq2seq.max_length (8)"),
        ("cell=transformer", "cell='transformer': expected one of"),
        ("one_to_one.test_fraction=1.5", "one_to_one.test_fraction=1.5"),
        ("synced.lr=0", "synced.lr=0.0: expected a positive number"),
    ],
)
def test_bad_settings_are_one_line_errors(setting, message, tmp_path, capsys):
    assert run_cli("run", "topologies", "--set", setting, "--out", tmp_path / "r") == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
