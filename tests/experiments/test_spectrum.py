"""`seqlab run spectrum`: the quick preset end to end, its numbers, resume, bad settings."""

import json

import pytest
import torch

from seqlab.analysis.spectrum import eigenvalues
from seqlab.errors import ConfigError
from seqlab.experiments.spectrum import PRESETS, DecayConfig
from seqlab.train import checkpoint

from ..runs import run_cli
from .conftest import killed_while_reporting


@pytest.fixture
def quick_run(quick_runs):
    return quick_runs("spectrum")


def read(run, name):
    record = json.loads((run / name).read_text())
    return record["details"] if name == "summary.json" else record


def test_quick_preset_leaves_a_complete_run_folder(quick_run):
    names = {p.name for p in quick_run.iterdir()}
    assert {"config.json", "env.json", "report.md", "summary.json", "curves.json"} <= names
    for figure in ("decay.png", "rates.png", "eigenvalues.png"):
        assert (quick_run / "figures" / figure).stat().st_size > 10_000
    track = quick_run / "trainings" / "track"
    assert {"metrics.jsonl", "checkpoint.pt", "result.json"} <= {p.name for p in track.iterdir()}
    assert read(quick_run, "config.json")["experiment"] == "spectrum"


def test_linear_decay_follows_the_spectral_radius(quick_run):
    s = read(quick_run, "summary.json")
    cfg = PRESETS["quick"].decay
    cases = s["cases"]
    assert len(cases) == len(cfg.kind_list) * len(cfg.radius_list) * 2
    linear = [c for c in cases if c["activation"] == "linear"]
    for c in linear:
        assert c["predicted"] == pytest.approx(c["radius"], rel=1e-9)
        assert c["within_tolerance"] == (abs(c["fitted"] / c["predicted"] - 1) <= 0.1)
    assert s["linear_within"] == s["linear_cases"] == len(linear) == 9
    # Closed form: an orthogonal or identity U gives ‖∂E/∂A_{z_1}‖ = ρ^(T-1) exactly.
    for curve in read(quick_run, "curves.json")["curves"]:
        if curve["activation"] == "linear" and curve["kind"] != "gaussian":
            expected = curve["radius"] ** torch.arange(cfg.max_length, dtype=torch.float64)
            torch.testing.assert_close(
                torch.tensor(curve["norms"], dtype=torch.float64), expected, rtol=1e-9, atol=0
            )
    # tanh can only slow a normal U's rate down.
    for c in cases:
        if c["activation"] == "tanh" and c["kind"] != "gaussian":
            assert c["fitted"] <= c["predicted"] * (1 + 1e-9)
    report = (quick_run / "report.md").read_text()
    assert "9 of 9 linear cases within 10%" in report and "**passed**" in report
    for c in cases:
        assert f"| {c['fitted']:.4f} | {c['relative_error']:+.2%} |" in report
    for figure in ("decay", "rates", "eigenvalues"):
        assert f"(figures/{figure}.png)" in report


def test_eigenvalues_are_tracked_at_every_validation(quick_run):
    track = read(quick_run, "curves.json")["track"]
    train = PRESETS["quick"].train
    assert track["steps"] == list(range(0, train.max_steps + 1, train.eval_every))
    H = PRESETS["quick"].track.hidden_size
    assert all(len(snap) == H for snap in track["eigenvalues"])
    # The last snapshot is the spectrum of the final weights.
    state = checkpoint.load(quick_run / "trainings" / "track" / "checkpoint.pt")
    final = eigenvalues(state["model"]["rnn.weight_hh_l0"])
    last = torch.tensor([complex(*z) for z in track["eigenvalues"][-1]], dtype=torch.complex128)
    torch.testing.assert_close(last, final, rtol=1e-6, atol=1e-6)
    s = read(quick_run, "summary.json")["training"]
    assert s["final_radius"] == pytest.approx(float(final.abs().max()), rel=1e-6)
    assert s["initial_radius"] == pytest.approx(track["radius"][0])
    assert s["steps"] == train.max_steps


def test_resume_after_the_training_gives_the_same_numbers_without_training(quick_run, tmp_path):
    before = read(quick_run, "summary.json")
    run = killed_while_reporting(quick_run, tmp_path / "spectrum")
    metrics = run / "trainings" / "track" / "metrics.jsonl"
    logged = metrics.read_text()
    assert run_cli("run", "spectrum", "--resume", run, "--quiet") == 0
    after = read(run, "summary.json")
    assert metrics.read_text() == logged  # nothing retrained
    assert after["training"] == before["training"]
    for a, b in zip(after["cases"], before["cases"], strict=True):
        assert a["fitted"] == pytest.approx(b["fitted"], rel=1e-9)
    assert after["linear_within"] == before["linear_within"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("decay.kinds=orthogonal,unitary", "decay.kinds"),
        ("decay.radii=0.5,-1", "decay.radii"),
        ("decay.fit_from=99", "decay.fit_from"),
        ("track.lag=40", "track.lag"),
    ],
)
def test_bad_settings_are_named(setting, message, tmp_path, capsys):
    out = tmp_path / "bad"
    assert run_cli("run", "spectrum", "--preset", "quick", "--out", out, "--set", setting) == 2
    assert message in capsys.readouterr().err


def test_lists_parse_from_comma_separated_strings():
    cfg = DecayConfig(kinds="identity, gaussian", radii="0.5,1", activations="tanh")
    assert cfg.kind_list == ("identity", "gaussian") and cfg.radius_list == (0.5, 1.0)
    with pytest.raises(ConfigError, match="decay.activations"):
        DecayConfig(activations="relu")
