"""Files written atomically: a reader, or a run resumed after a crash or kill, sees the old
file or the whole new one, never a part.

The contents go to a temporary sibling, are flushed to disk, and the sibling is renamed over
the target (a rename within one folder is atomic).
"""

import json
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, write) -> None:
    """Run ``write(file)`` into a temporary sibling of ``path``, fsync it, rename it over."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the run's files from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    atomic_write_bytes(path, lambda f: f.write(text.encode("utf-8")))


def read_json_lines(path: Path) -> list:
    """The values of a JSON-lines file (``metrics.jsonl``); a line cut short by a kill is
    skipped."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
