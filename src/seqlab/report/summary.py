"""The run summary: what every experiment writes to ``summary.json`` and what ``seqlab report``
reads. One schema for every experiment, strict JSON (no NaN: a number that is not finite is
written as ``null``)::

    {
      "schema": "seqlab.summary/1",
      "experiment": "translate-dates",          the registered name
      "preset": "default",
      "status": "completed",                     completed | interrupted | diverged | failed
      "message": "",                             why, when the status is not "completed"
      "started": "2026-12-01T20:10:00+0000",     the run's first start (env.json)
      "finished": "2026-12-01T20:16:07+0000",    when this summary was written
      "duration_s": 367.2,                       wall seconds, summed over resumed sessions
      "headline": [                              the results a reader looks at first
        {"name": "exact match, attention (greedy)", "value": 100.0, "unit": "%",
         "compared_with": "target >= 99%", "passed": true}
      ],
      "artefacts": [                             files of the run folder, with captions
        {"path": "figures/alignments.png", "kind": "figure", "caption": "..."}
      ],
      "details": {...}                           the experiment's own numbers
    }

``passed`` is ``true``/``false`` where the experiment states a claim it can check, else
``null``. ``kind`` is one of :data:`KINDS`.
"""

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CheckpointError

SCHEMA = "seqlab.summary/1"
STATUSES = ("completed", "interrupted", "diverged", "failed")
KINDS = ("figure", "audio", "html", "text", "data")
SUMMARY = "summary.json"


@dataclass(frozen=True)
class Headline:
    """One headline result: ``value`` in ``unit`` ("%" means percent, 0-100), and what it is
    compared with (a claim such as "target >= 99%" or a baseline such as "unigram 3.30")."""

    name: str
    value: float | int | str | None
    unit: str = ""
    compared_with: str = ""
    passed: bool | None = None

    def text(self) -> str:
        """``name: value unit (compared with …) PASS``, as the CLI prints it."""
        shown = format_value(self.value, self.unit)
        tail = f" ({self.compared_with})" if self.compared_with else ""
        verdict = {True: "PASS: ", False: "FAIL: ", None: ""}[self.passed]
        return f"{verdict}{self.name}: {shown}{tail}"


@dataclass(frozen=True)
class Artefact:
    """A file of the run folder (``path`` relative to it) that a person should see."""

    path: str
    caption: str
    kind: str = "figure"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"artefact kind {self.kind!r}: expected one of {KINDS}")


@dataclass
class Summary:
    experiment: str
    preset: str
    status: str
    started: str
    finished: str
    duration_s: float
    headline: list[Headline] = field(default_factory=list)
    artefacts: list[Artefact] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r}: expected one of {STATUSES}")

    def to_dict(self) -> dict:
        record = {"schema": SCHEMA, **asdict(self)}
        # the schema's order: identity, status, timing, results, files, the experiment's own
        order = ("schema", "experiment", "preset", "status", "message", "started", "finished",
                 "duration_s", "headline", "artefacts", "details")  # fmt: skip
        return {k: record[k] for k in order}


def format_value(value, unit: str = "") -> str:
    """A headline value as a person reads it: ``99.6%``, ``1.4702 nats/char``, ``11.12 BLEU``.
    Experiments round their values to the digits that mean something; at most 6 significant
    digits are shown."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or isinstance(value, str):
        return f"{value}{' ' + unit if unit else ''}"
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a"
    if isinstance(value, int):
        text = f"{value:,}"
    else:  # the experiment rounds to the digits that mean something; 6 significant at most
        text = f"{value:.6g}"
    if not unit:
        return text
    return f"{text}%" if unit == "%" else f"{text} {unit}"


def finite(obj):
    """``obj`` with every non-finite float replaced by None (JSON has no NaN or infinity),
    tuples as lists and dict keys as strings: what :func:`to_json` writes."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def to_json(obj) -> str:
    """Strict, indented JSON of ``obj`` (see :func:`finite`), with a final newline."""
    return json.dumps(finite(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def validate(record: dict, where: str = SUMMARY) -> dict:
    """``record`` if it follows the schema; a ValueError naming the first field that does not."""

    def need(ok: bool, what: str):
        if not ok:
            raise ValueError(f"{where}: {what}" if where else what)

    need(isinstance(record, dict), "expected a JSON object")
    need(record.get("schema") == SCHEMA, f"schema is {record.get('schema')!r}, not {SCHEMA!r}")
    for key in ("experiment", "preset", "started", "finished", "message"):
        need(isinstance(record.get(key), str), f"{key!r} must be a string")
    need(record.get("status") in STATUSES, f"status {record.get('status')!r} not in {STATUSES}")
    duration = record.get("duration_s")
    need(isinstance(duration, (int, float)) and duration >= 0, "duration_s must be seconds >= 0")
    need(isinstance(record.get("headline"), list), "headline must be a list")
    for i, h in enumerate(record["headline"]):
        need(
            isinstance(h, dict) and isinstance(h.get("name"), str) and h["name"],
            f"headline[{i}] needs a name",
        )
        need(
            h.get("value") is None or isinstance(h["value"], (int, float, str)),
            f"headline[{i}].value must be a number, a string or null",
        )
        need(isinstance(h.get("unit"), str), f"headline[{i}].unit must be a string")
        need(isinstance(h.get("compared_with"), str), f"headline[{i}].compared_with: a string")
        need(h.get("passed") in (True, False, None), f"headline[{i}].passed: true, false or null")
    need(isinstance(record.get("artefacts"), list), "artefacts must be a list")
    for i, a in enumerate(record["artefacts"]):
        need(isinstance(a, dict) and isinstance(a.get("path"), str), f"artefacts[{i}].path")
        need(not Path(a["path"]).is_absolute() and ".." not in Path(a["path"]).parts,
             f"artefacts[{i}].path must lie inside the run folder")  # fmt: skip
        need(a.get("kind") in KINDS, f"artefacts[{i}].kind {a.get('kind')!r} not in {KINDS}")
        need(isinstance(a.get("caption"), str), f"artefacts[{i}].caption must be a string")
    need(isinstance(record.get("details"), dict), "details must be an object")
    return record


def read_summary(run_dir: Path) -> dict | None:
    """The validated ``summary.json`` of a run folder; None when the run wrote none yet; a
    CheckpointError when it is damaged or of another schema."""
    path = Path(run_dir) / SUMMARY
    if not path.exists():
        return None
    try:
        return validate(json.loads(path.read_text(encoding="utf-8")), where="")
    except ValueError as err:  # json.JSONDecodeError is a ValueError
        raise CheckpointError(f"{path} is not a seqlab summary ({err})") from None
