"""A gallery built once from fabricated run folders, shared by the gallery and browser tests."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from seqlab.report import Gallery, build_gallery

from .fabricate import make_run

SCRIPT_CAPTION = '<script>alert("caption")</script> & the loss'


@dataclass
class Built:
    results: Path  # the folder of run folders
    site: Path
    gallery: Gallery


def fabricate_results(root: Path) -> Path:
    """Five runs as ``docs/results`` holds them, one nested a level deeper, one killed before
    its summary, one with a damaged summary, plus a file that is no run."""
    make_run(root / "product-later", started="2026-12-02T09:00:00+0000", status="interrupted")
    make_run(root / "product-quick", started="2026-12-01T20:00:00+0000")
    make_run(root / "charlm-quick" / "seqlab-gru", experiment="charlm", caption=SCRIPT_CAPTION)
    make_run(root / "delay-killed", experiment="delay", summary="none", trainings=("lstm", "rnn"))
    make_run(root / "broken", experiment="vanishing", summary="damaged")
    (root / "README.md").write_text("Run folders kept with the code.\n")
    return root


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    results = fabricate_results(tmp_path_factory.mktemp("docs") / "results")
    site = tmp_path_factory.mktemp("gallery") / "site"
    return Built(results, site, build_gallery([results], site))
