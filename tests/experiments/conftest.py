"""Changing a shared quick run (``quick_runs``, tests/conftest.py) means working on a copy."""

import shutil
from pathlib import Path


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
