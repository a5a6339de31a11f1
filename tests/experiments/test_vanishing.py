"""`seqlab run vanishing`: the quick preset end to end and the demonstration's claim."""

import json

from seqlab.train.metrics import read_metrics


def test_quick_run_shows_the_gradient_vanishing_from_ones_but_not_from_random(quick_runs):
    out = quick_runs("vanishing")
    s = json.loads((out / "summary.json").read_text())["details"]
    ones, random = s["trainings"]["ones"], s["trainings"]["random"]
    # Saturated tanh: little of the error reaches the two frames back the task needs ...
    assert ones["reach_initial"]["2"] < 1e-2 and ones["reach_initial"]["10"] < 1e-12
    # ... while a random start passes a sizeable share back.
    assert random["reach_initial"]["2"] > 10 * ones["reach_initial"]["2"]
    assert random["final_nmse"] < ones["final_nmse"]
    # The per-frame norms are in the trainings' metrics: one column per frame back.
    rows = [
        r
        for r in read_metrics(out / "trainings" / "ones" / "metrics.jsonl")
        if r["split"] == "valid"
    ]
    assert [r["step"] for r in rows] == [20, 40, 60, 80, 100]
    assert all(f"back_{k}" in rows[0] for k in range(20))
    assert (out / "figures" / "gradients.png").stat().st_size > 10_000
    assert "![gradients](figures/gradients.png)" in (out / "report.md").read_text()


def test_bad_settings_name_the_key():
    import pytest

    from seqlab.errors import ConfigError
    from seqlab.experiments.vanishing import VanishingConfig

    with pytest.raises(ConfigError, match="length=2: expected more than lag=2"):
        VanishingConfig(length=2)
    with pytest.raises(ConfigError, match="hidden_size=0: expected an integer >= 1"):
        VanishingConfig(hidden_size=0)
