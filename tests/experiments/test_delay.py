"""`seqlab run delay`: the quick preset end to end, its claims at small scale, and resume."""

import json

import pytest
import torch

from seqlab import cli
from seqlab.errors import ConfigError
from seqlab.experiments import delay

from ..runs import ctrl_c_at_update
from .conftest import killed_while_reporting


@pytest.fixture
def quick_run(quick_runs):
    return quick_runs("delay")


def test_quick_run_shows_the_lstm_solving_what_the_sigmoid_rnn_cannot(quick_run):
    summary = json.loads((quick_run / "summary.json").read_text())
    s = summary["details"]
    head = {m: per["4"] for m, per in s["by_model"].items()}  # json keys are strings
    assert head["lstm"]["solved"] == head["lstm"]["seeds"] == 2
    assert head["rnn-sigmoid"]["solved"] == 0 and head["rnn-sigmoid"]["median_nmse"] > 0.5
    assert s["claims"][0].startswith("PASS: the LSTM solves delay 4 in every seed (2/2)")
    # 4 models x 2 seeds at delay 4, then 4 models x 1 seed at delay 2
    assert len(s["results"]) == 12 and {r["delay"] for r in s["results"]} == {2, 4}
    flow = s["error_flow"]["lstm"]
    assert len(flow["cell"]) == len(flow["pre_activation"]) == 4 + 12
    assert all(0 < p <= 1 for unit in flow["cell_path"] for p in unit)
    report = (quick_run / "report.md").read_text()
    for name in ("delay.png", "sweep.png", "error_flow.png"):
        assert (quick_run / "figures" / name).stat().st_size > 10_000
        assert f"figures/{name}" in report
    assert "| lstm | 2/2 |" in report
    verdicts = {h["name"]: h["passed"] for h in summary["headline"]}
    assert verdicts["lstm solves delay 4"] is True and verdicts["rnn-sigmoid solves delay 4"]


def test_resume_after_the_trainings_reads_every_training_back(quick_run, tmp_path, capsys):
    before = json.loads((quick_run / "summary.json").read_text())
    run = killed_while_reporting(quick_run, tmp_path / "delay")
    metrics = run / "trainings" / "lstm-delay4-seed0" / "metrics.jsonl"
    stamp = metrics.stat().st_mtime_ns
    assert cli.main(["run", "delay", "--resume", str(run), "--quiet"]) == 0
    assert metrics.stat().st_mtime_ns == stamp  # not trained again
    after = json.loads((run / "summary.json").read_text())
    assert after["details"]["results"] == before["details"]["results"]
    assert after["headline"] == before["headline"]
    assert "PASS: the LSTM solves delay 4" in capsys.readouterr().out


def test_a_training_stopped_midway_continues_from_its_checkpoint(tmp_path):
    args = [
        "run",
        "delay",
        "--preset",
        "quick",
        "--quiet",
        "--set",
        "models=lstm",
        "--set",
        "seeds=1",
        "--set",
        "sweep_seeds=0",
    ]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert cli.main([*args, "--out", str(whole)]) == 0
    with ctrl_c_at_update(150):
        assert cli.main([*args, "--out", str(cut)]) == 130
    folder = cut / "trainings" / "lstm-delay4-seed0"
    assert not (folder / "result.json").exists()
    assert torch.load(folder / "checkpoint.pt", weights_only=True)["step"] == 150
    assert cli.main(["run", "delay", "--resume", str(cut), "--quiet"]) == 0
    a = json.loads((whole / "summary.json").read_text())["details"]["results"]
    b = json.loads((cut / "summary.json").read_text())["details"]["results"]
    assert [r["nmse"] for r in b] == pytest.approx([r["nmse"] for r in a], rel=1e-5)
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "valid"] == [100, 200, 300]


def test_bad_settings_name_the_key():
    with pytest.raises(ConfigError, match="models='lstm,transformer'"):
        delay.DelayConfig(models="lstm,transformer")
    with pytest.raises(ConfigError, match="sweep_delays='2,x'"):
        delay.DelayConfig(sweep_delays="2,x")
