"""`seqlab run keywords`: the generated sentences, the decision analysis, and the quick run."""

import json
import random

import pytest
import torch

from seqlab.data import houses
from seqlab.errors import ConfigError
from seqlab.experiments import keywords

from ..runs import run_cli


def test_every_name_has_one_house_and_the_rules_of_both_parts():
    assert len(set(houses.NAMES)) == sum(len(v) for v in houses.CAST.values())
    assert houses.HOUSES[houses.label_of(("romeo",))] == "montague"
    # part 2: the house of the partner named second, unless the first is a Lancaster
    assert houses.HOUSES[houses.label_of(("romeo", "juliet"))] == "capulet"
    assert houses.HOUSES[houses.label_of(("juliet", "romeo"))] == "montague"
    assert houses.HOUSES[houses.label_of(("hal", "juliet"))] == "lancaster"
    assert houses.HOUSES[houses.label_of(("juliet", "hal"))] == "lancaster"


def test_sentences_place_the_deciding_word_where_the_label_is_settled():
    rng = random.Random(0)
    for s in houses.sentences(2, 300, rng):
        first, second = (s.words[p] for p in s.names)
        assert s.label == houses.label_of((first, second))
        if houses.HOUSE_OF[first] == houses.DECIDES_ALONE:
            assert s.kind == "one-name" and s.deciding == s.names[0]
        else:
            assert s.kind == "two-name" and s.deciding == s.names[1]
    positions = {s.deciding for s in houses.sentences(1, 300, rng)}
    assert len(positions) >= 6, "the deciding word moves around the sentence"


def test_held_out_frames_use_only_words_training_sentences_hold():
    train = set()
    for p in (1, 2):
        for s in houses.sentences(p, 3000, random.Random(p)):
            train.update(s.words)
    for p in (1, 2):
        for s in houses.sentences(p, 300, random.Random(9), frames="test", couples="any"):
            assert set(s.words) <= train
    assert all(s.words and s.label in range(4) for s in houses.sentences(1, 50, random.Random(1)))


def test_held_out_couples_never_appear_in_training_sentences():
    held = houses.held_out_couples(0)
    assert len(held) == len(houses.NAMES) * (len(houses.NAMES) - 1) // 2 // 5
    for s in houses.sentences(2, 2000, random.Random(3)):
        assert frozenset(s.words[p] for p in s.names) not in held
    for s in houses.sentences(2, 200, random.Random(4), couples="test"):
        assert frozenset(s.words[p] for p in s.names) in held


def test_decision_is_the_first_step_at_the_threshold():
    probs = torch.tensor(
        [
            [0.25, 0.25, 0.25, 0.25],
            [0.5, 0.3, 0.1, 0.1],
            [0.05, 0.92, 0, 0.03],
            [0.01, 0.98, 0, 0.01],
        ]
    )
    assert keywords.decision(probs, 0.9) == (2, 1)
    assert keywords.decision(probs[:2], 0.9) == (None, -1)


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("loss_on", "first", "every or last"),
        ("threshold", "1.5", "(0.5, 1)"),
        ("parts", "3", "parts='3'"),
    ],
)
def test_bad_settings_are_refused(key, value, message, tmp_path, capsys):
    assert (
        run_cli(
            "run",
            "keywords",
            "--preset",
            "quick",
            "--set",
            f"{key}={value}",
            "--out",
            tmp_path / "k",
        )
        == 2
    )
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ConfigError):
        keywords.KeywordsConfig(loss_on="first")


def test_quick_run_decides_part_one_at_the_name(quick_runs):
    folder = quick_runs("keywords")
    summary = json.loads((folder / "summary.json").read_text())
    part1 = summary["details"]["part1"]
    assert part1["accuracy"]["held-out frames"]["accuracy"] >= 0.95
    decided = part1["decision"]["one-name"]
    assert decided["at"] >= 0.9 and decided["before"] == 0.0
    part2 = summary["details"]["part2"]
    assert set(part2["accuracy"]) == {"held-out frames", "held-out couples", "both held out"}
    assert set(part2["decision"]) == {"one-name", "two-name"}
    for kind in part2["decision"].values():
        shares = [kind[k] for k in ("before", "at", "at_wrong_house", "after", "never")]
        assert sum(shares) == pytest.approx(1.0)
    report = (folder / "report.md").read_text()
    assert "| one-name | 1000 |" not in report and "| two-name |" in report
    names = {h["name"] for h in summary["headline"]}
    assert "part 2 two-name decided at the second name" in names
