"""Each registered experiment's ``quick`` run, made once per test session and shared by the
tests that read it (a test that changes a run folder works on a copy: :func:`copy_run`)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ..runs import run_cli


def bible_missing() -> bool:
    """translate-bible reads Debian's Bibles; CI installs them and sets SEQLAB_REQUIRE_BIBLE."""
    if os.environ.get("SEQLAB_REQUIRE_BIBLE"):
        return False
    try:
        subprocess.run(["diatheke", "-b", "system", "-k", "modulelist"], capture_output=True,
                       timeout=30, check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return True
    return not Path("/usr/share/sword/mods.d/engWEB2015eb.conf").exists()


NEEDS = {
    "translate-bible": (
        bible_missing,
        "needs diatheke: apt-get install --no-install-recommends diatheke sword-text-web "
        "sword-text-sparv",
    )
}


@pytest.fixture(scope="session")
def quick_runs(tmp_path_factory):
    """``quick_runs(name)``: the folder of ``seqlab run NAME --preset quick``, run on first use."""
    made: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("quick-runs")

    def get(name: str) -> Path:
        if name in NEEDS and NEEDS[name][0]():
            pytest.skip(NEEDS[name][1])
        if name not in made:
            out = root / name
            assert run_cli("run", name, "--preset", "quick", "--out", out, "--quiet") == 0
            made[name] = out
        return made[name]

    return get


def copy_run(folder: Path, to: Path) -> Path:
    """A copy of a run folder to change (resume, damage) without touching the shared one."""
    return Path(shutil.copytree(folder, to))


def killed_while_reporting(folder: Path, to: Path) -> Path:
    """A copy of a finished run as a kill during its report would leave it: every training
    done, no summary.json or report.md yet."""
    copy = copy_run(folder, to)
    (copy / "summary.json").unlink()
    (copy / "report.md").unlink()
    return copy
