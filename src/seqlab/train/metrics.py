"""``metrics.jsonl``: one JSON object per line, appended as training goes."""

import json
import math
from pathlib import Path

from ..files import atomic_write_text
from ..files import read_json_lines as read_metrics


class MetricsLog:
    def __init__(self, path: Path | None):
        self.path = Path(path) if path else None

    def append(self, row: dict) -> None:
        if self.path is None:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(_finite(row)) + "\n")

    def truncate_after(self, step: int) -> int:
        """Drop rows written after ``step`` (a resumed run redoes them from its checkpoint);
        how many were dropped."""
        if self.path is None or not self.path.exists():
            return 0
        rows = read_metrics(self.path)
        keep = [r for r in rows if r.get("step", 0) <= step]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in keep))
        return len(rows) - len(keep)


def _finite(row: dict) -> dict:
    # JSON has no NaN/inf; write them as strings so the file stays valid JSON.
    return {
        k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()
    }
