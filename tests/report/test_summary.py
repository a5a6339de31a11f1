"""The run summary schema: strict JSON, validation that names the field, formatting."""

import json
import math

import pytest

from seqlab.errors import CheckpointError
from seqlab.report.summary import (
    Artefact,
    Headline,
    Summary,
    format_value,
    read_summary,
    to_json,
    validate,
)


def example(**changes) -> Summary:
    values = dict(
        experiment="charlm",
        preset="quick",
        status="completed",
        started="2026-12-01T20:00:00+0000",
        finished="2026-12-01T20:01:00+0000",
        duration_s=60.0,
        headline=[Headline("validation loss", 1.5, "nats/char", "unigram 3.30", None)],
        artefacts=[Artefact("figures/loss.png", "loss curves")],
        details={"best": math.nan, "steps": 60},
    )
    return Summary(**(values | changes))


def test_a_summary_round_trips_as_strict_json_with_nan_as_null(tmp_path):
    text = to_json(example().to_dict())
    assert "NaN" not in text
    (tmp_path / "summary.json").write_text(text)
    record = read_summary(tmp_path)
    assert record["details"] == {"best": None, "steps": 60}
    assert list(record)[:4] == ["schema", "experiment", "preset", "status"]
    assert record["headline"][0]["compared_with"] == "unigram 3.30"


def test_validation_names_the_first_wrong_field():
    record = json.loads(to_json(example().to_dict()))
    with pytest.raises(ValueError, match="status 'done' not in"):
        validate(record | {"status": "done"})
    with pytest.raises(ValueError, match=r"artefacts\[0\].path must lie inside the run folder"):
        validate(record | {"artefacts": [{"path": "../x.png", "kind": "figure", "caption": ""}]})
    with pytest.raises(ValueError, match=r"headline\[0\].passed"):
        validate(record | {"headline": [record["headline"][0] | {"passed": "yes"}]})
    with pytest.raises(ValueError, match="status"):
        example(status="finished")


def test_a_damaged_summary_is_a_checkpoint_error_and_a_missing_one_is_none(tmp_path):
    assert read_summary(tmp_path) is None
    (tmp_path / "summary.json").write_text('{"experiment": "charlm"')
    with pytest.raises(CheckpointError, match="is not a seqlab summary"):
        read_summary(tmp_path)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (99.6, "%", "99.6%"),
        (100.0, "%", "100%"),
        (1.4702, "nats/char", "1.4702 nats/char"),
        (11.12, "BLEU", "11.12 BLEU"),
        (2894, "steps", "2,894 steps"),
        (math.nan, "s", "n/a"),
        (None, "", "n/a"),
        (0.00012, "", "0.00012"),
        (100 * 0.996, "%", "99.6%"),
    ],
)
def test_values_read_as_a_person_expects(value, unit, text):
    assert format_value(value, unit) == text


def test_a_headline_line_carries_its_verdict():
    line = Headline("exact match", 99.6, "%", "target >= 99%", True).text()
    assert line == "PASS: exact match: 99.6% (target >= 99%)"
