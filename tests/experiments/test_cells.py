"""`seqlab run cells`: six cells through the char LM, the table and the figure, resume after a
kill."""

import json
import math

import pytest
import torch

from seqlab import cli
from seqlab.config import override
from seqlab.errors import ConfigError
from seqlab.experiments import cells
from seqlab.models.charlm import CharLM
from seqlab.train import checkpoint

from ..runs import ctrl_c_at_update

ALL = list(cells.CELLS)


@pytest.fixture
def quick_run(quick_runs):
    return quick_runs("cells")


def test_quick_run_trains_every_cell_and_tabulates_them(quick_run):
    summary = json.loads((quick_run / "summary.json").read_text())
    rows = summary["details"]["cells"]
    assert [r["cell"] for r in rows] == ALL
    for r in rows:
        assert r["steps"] == 12 and r["chars_per_s"] > 0
        assert math.isfinite(r["valid_loss"]) and math.isfinite(r["curve_best_loss"])
        assert r["curve"][-1][1] == r["curve_last_loss"] and len(r["curve"]) == 2
        folder = quick_run / "trainings" / r["cell"]
        assert (folder / "result.json").exists() and (folder / "checkpoint.pt").exists()
    # Same size, different cells: the parameter counts follow the gates (RNN 1, GRU 3, LSTM 4
    # blocks; the full peephole adds V_o, H×H; layer norm its gains and shifts).
    params = {r["cell"]: r["parameters"] for r in rows}
    assert params["rnn"] < params["gru"] == params["gru-before"] < params["lstm"]
    assert params["lstm-peephole"] == params["lstm"] + 16 * 16
    assert params["lstm-ln"] > params["lstm"]
    details = summary["details"]
    assert details["valid_chars"] == 4000 and details["curve_valid_chars"] == 2000
    assert [h["name"] for h in summary["headline"]] == [f"{c} validation loss" for c in ALL]
    report = (quick_run / "report.md").read_text()
    for r in rows:
        assert f"| {r['label']} |" in report and f"{r['valid_loss']:.4f}" in report
    assert "![validation curves](figures/valid_by_time.png)" in report
    assert (quick_run / "figures" / "valid_by_time.png").stat().st_size > 10_000


def test_each_cell_is_the_model_it_names(quick_run):
    """The checkpoints hold the variant's own weights: V_o (H, H) for the peephole, layer
    norm's parameters, and the reset-before GRU computes another function than reset-after."""
    folder = quick_run / "trainings"
    states = {c: checkpoint.load(folder / c / "checkpoint.pt")["model"] for c in ALL}
    assert states["lstm-peephole"]["rnn.weight_peephole_l0"].shape == (16, 16)
    assert any("ln" in k for k in states["lstm-ln"]) and not any("ln" in k for k in states["lstm"])
    assert states["rnn"]["rnn.weight_hh_l0"].shape == (16, 16)
    cfg = cells.PRESETS["quick"]
    after = CharLM.from_config(cells.model_config(cfg, "gru"), 80)
    before = CharLM.from_config(cells.model_config(cfg, "gru-before"), 80)
    before.load_state_dict(after.state_dict())  # same weights, other equation
    ids = torch.randint(80, (2, 9))
    assert not torch.allclose(after(ids)[0], before(ids)[0])
    assert all(cells.model_config(cfg, c).backend == "seqlab" for c in ALL)


def test_a_run_killed_midway_resumes_and_trains_the_remaining_cells(quick_run, tmp_path):
    cut = tmp_path / "cut"
    # 12 steps per cell: update 30 is the 6th step of the third cell (lstm-peephole).
    with ctrl_c_at_update(30):
        code = cli.main(["run", "cells", "--preset", "quick", "--quiet", "--out", str(cut)])
    assert code == 130
    done = [c for c in ALL if (cut / "trainings" / c / "result.json").exists()]
    assert done == ["rnn", "lstm"]
    third = cut / "trainings" / "lstm-peephole"
    assert torch.load(third / "checkpoint.pt", weights_only=True)["step"] == 6
    stamp = (cut / "trainings" / "rnn" / "metrics.jsonl").stat().st_mtime_ns
    assert cli.main(["run", "cells", "--resume", str(cut), "--quiet"]) == 0
    assert (cut / "trainings" / "rnn" / "metrics.jsonl").stat().st_mtime_ns == stamp
    whole = json.loads((quick_run / "summary.json").read_text())["details"]["cells"]
    resumed = json.loads((cut / "summary.json").read_text())["details"]["cells"]
    assert [r["cell"] for r in resumed] == ALL and all(r["steps"] == 12 for r in resumed)
    # The same trainings as an uncut run: the same losses, cell by cell.
    assert [r["valid_loss"] for r in resumed] == pytest.approx(
        [r["valid_loss"] for r in whole], rel=1e-4
    )


def test_a_subset_of_cells_and_bad_names():
    cfg = override(cells.PRESETS["quick"], ["cells=gru-before,rnn"])
    assert cfg.cell_names == ("gru-before", "rnn")
    with pytest.raises(ConfigError, match="cells='lstm,tree'"):
        override(cells.PRESETS["quick"], ["cells=lstm,tree"])
    with pytest.raises(ConfigError, match="model.hidden_size=0"):
        override(cells.PRESETS["quick"], ["model.hidden_size=0"])
