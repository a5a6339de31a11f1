"""The experiments ``seqlab run NAME`` knows: a name, a one-line summary, presets, a run function.

An experiment module registers itself with :func:`register` when :mod:`seqlab.experiments` is
imported. Its ``run(cfg, run)`` trains and evaluates inside the given :class:`~.rundir.Run`
and returns a summary (a dict the CLI prints); ``sample`` (``seqlab sample``) and ``translate``
(``seqlab translate``) are optional.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True)
class Experiment:
    name: str
    summary: str
    presets: dict[str, Any]  # preset name -> configuration (a frozen dataclass)
    run: Callable[..., dict]
    default_preset: str = "default"
    preset_notes: dict[str, str] = field(default_factory=dict)
    sample: Callable[..., str] | None = None
    translate: Callable[..., dict] | None = None  # `seqlab translate RUN_DIR TEXT`

    @property
    def config_class(self) -> type:
        return type(self.presets[self.default_preset])

    def preset(self, name: str | None):
        name = name or self.default_preset
        if name not in self.presets:
            raise ConfigError(
                f"experiment {self.name!r} has no preset {name!r}; "
                f"choose one of: {', '.join(self.presets)}"
            )
        return self.presets[name]


REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    if experiment.name in REGISTRY:
        raise ValueError(f"experiment {experiment.name!r} is registered twice")
    REGISTRY[experiment.name] = experiment
    return experiment


def get(name: str) -> Experiment:
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY)) or "(none)"
        raise ConfigError(f"unknown experiment {name!r}; `seqlab list` shows them: {known}")
    return REGISTRY[name]
