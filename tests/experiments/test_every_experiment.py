"""Every registered experiment, through its ``quick`` preset: it completes, writes a summary
that follows the one schema, lists only files that exist, and its report shows its figures."""

import json
import re

import pytest

from seqlab import experiments
from seqlab.report.summary import read_summary

NAMES = sorted(experiments.REGISTRY)


def test_the_registry_holds_every_experiment_of_the_package():
    assert {"charlm", "delay", "product", "spectrum", "topologies", "vanishing",
            "translate-dates", "translate-bible", "keywords",
            "self-attention"} <= set(NAMES)  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_quick_run_writes_the_summary_schema_and_its_artefacts(name, quick_runs):
    folder = quick_runs(name)
    summary = read_summary(folder)  # validated field by field
    assert summary["experiment"] == name and summary["preset"] == "quick"
    assert summary["status"] == "completed" and summary["message"] == ""
    assert summary["duration_s"] > 0 and summary["started"] <= summary["finished"]
    assert summary["headline"], "a run states at least one headline result"
    assert "NaN" not in (folder / "summary.json").read_text()
    figures = [a for a in summary["artefacts"] if a["kind"] == "figure"]
    assert figures, "every experiment leaves at least one figure"
    for artefact in summary["artefacts"]:
        path = folder / artefact["path"]
        assert path.is_file() and path.stat().st_size > 0, artefact
        assert artefact["caption"].strip(), artefact
    listed = {a["path"] for a in figures}
    on_disk = {f"figures/{p.name}" for p in (folder / "figures").glob("*.png")}
    assert listed == on_disk, "every saved figure is listed, and nothing else"
    report = (folder / "report.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((figures/[^)]+\.png)\)", report))
    assert linked <= on_disk and linked, "the report links figures that exist"
    config = json.loads((folder / "config.json").read_text())
    assert config["experiment"] == name and config["preset"] == "quick"
    assert not (folder / ".lock").exists(), "the lock is released when the run ends"
