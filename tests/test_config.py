"""Dotted --set overrides typed from the configuration dataclasses."""

from dataclasses import dataclass, field

import pytest

from seqlab import config
from seqlab.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    lr: float = 1e-3
    steps: int = 10
    name: str = "adam"
    flag: bool = False
    limit: int | None = None

    def __post_init__(self):
        config.check(self.steps >= 1, "inner.steps", self.steps, "an integer >= 1")


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    seed: int = 0


def test_overrides_are_typed_from_the_fields():
    cfg = config.override(
        Outer(), ["inner.lr=3e-3", "inner.steps=7", "inner.flag=yes", "inner.limit=5", "seed=2"]
    )
    assert cfg == Outer(Inner(lr=3e-3, steps=7, flag=True, limit=5), seed=2)
    assert config.override(cfg, ["inner.limit=none"]).inner.limit is None
    assert config.override(Outer(), ["inner.name=sgd"]).inner.name == "sgd"


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("inner.momentum=0.9", r"unknown key 'inner.momentum'; valid keys:\n  inner.lr = 0.001"),
        ("optimizer=adam", "unknown key 'optimizer'"),
        ("inner.steps=ten", r"inner.steps='ten': expected a value of type int"),
        ("inner.flag=maybe", "expected a value of type bool"),
        ("inner.steps=0", r"inner.steps=0: expected an integer >= 1"),
        ("inner=3", "is a section"),
        ("seed", "expected KEY=VALUE"),
    ],
)
def test_bad_overrides_name_the_key_and_what_is_valid(assignment, message):
    with pytest.raises(ConfigError, match=message):
        config.override(Outer(), [assignment])


def test_dict_round_trip_and_unknown_keys():
    cfg = Outer(Inner(lr=0.5), seed=3)
    assert config.from_dict(Outer, config.to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match=r"config: unknown keys \['inner.beta'\]"):
        config.from_dict(Outer, {"inner": {"beta": 1}})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"seed": None}, r"config: seed=null: expected an integer \(e.g. 64\)"),
        ({"seed": "3"}, r'config: seed="3": expected an integer'),
        ({"seed": True}, r"config: seed=true: expected an integer"),
        ({"inner": {"lr": "fast"}}, r'config: inner.lr="fast": expected a number'),
        ({"inner": 3}, r"config: inner expected an object, got int"),
    ],
)
def test_values_of_the_wrong_type_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        config.from_dict(Outer, data)


def test_an_int_is_a_fine_float():
    assert config.from_dict(Outer, {"inner": {"lr": 1}}).inner.lr == 1.0


def test_parse_list_reads_comma_separated_values_and_names_the_field():
    from seqlab.config import parse_list

    assert parse_list(" 2, 5,10 ", "delays", int) == (2, 5, 10)
    with pytest.raises(ConfigError, match="models='lstm,x': expected a comma-separated list of"):
        parse_list("lstm,x", "models", allowed=("lstm", "gru"))
    with pytest.raises(ConfigError, match="delays=''"):
        parse_list("", "delays", int)


def test_one_line_quotes_a_long_message_on_one_line():
    from seqlab.errors import one_line

    message = "Error(s) in loading state_dict:\n\tsize mismatch for w: ...\n\tsize mismatch " * 9
    quoted = one_line(RuntimeError(message), limit=80)
    assert "\n" not in quoted and "\t" not in quoted and len(quoted) == 80
    assert quoted.startswith("Error(s) in loading state_dict: size mismatch for w:")
    assert one_line(ValueError("short")) == "short"


def test_settings_valid_only_together_can_come_in_any_order():
    from seqlab.train import TrainConfig

    base = TrainConfig(max_steps=2000)
    for order in (["max_steps=0", "time_budget=774"], ["time_budget=774", "max_steps=0"]):
        cfg = config.override(base, order)
        assert (cfg.max_steps, cfg.time_budget) == (0, 774.0)
    assert config.override(base, ["lr=0.1", "lr=0.2"]).lr == 0.2  # the last one wins
    with pytest.raises(ConfigError, match="max_steps=0.*positive train.time_budget"):
        config.override(base, ["max_steps=0"])
