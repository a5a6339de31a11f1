"""The experiments ``seqlab run NAME`` knows, and the commands they add to ``seqlab``.

An experiment is one module (or one subpackage) of :mod:`seqlab.experiments` that calls
:func:`register` with an :class:`Experiment`: a name, a one-line summary, presets, and
``run(cfg, run, on_event)``, which trains and evaluates inside a
:class:`~.rundir.Run` and ends with ``run.finish(...)``. Importing :mod:`seqlab.experiments`
imports every module and subpackage in it, so a new experiment needs no edit anywhere else;
experiments in other packages register through the ``seqlab.experiments`` entry point group.

An experiment may also offer :class:`Command` verbs that work on its run folders
(``seqlab sample RUN_DIR``, ``seqlab translate RUN_DIR TEXT``): the CLI builds one subcommand
per verb from the registry and hands each call to the handler of the run folder's experiment.
"""

from argparse import ArgumentParser, Namespace
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import ConfigError


class Output(Protocol):
    """Where a command's results go; the CLI gives one that writes to the terminal."""

    def text(self, text: str) -> None:
        """Program output (standard output), shown as it comes: e.g. sampled text."""

    def note(self, text: str) -> None:
        """A line about the output (standard error): which model, scores, saved files."""


@dataclass(frozen=True)
class Command:
    """A verb ``seqlab NAME RUN_DIR ...`` for run folders of the experiments that offer it.

    arguments: adds the verb's own options to its parser (``RUN_DIR`` is added for it).
    handler: ``(run, args, out) -> exit code``, for a run folder of this experiment.
    Experiments offering the same verb must give it the same ``arguments`` function, so the
    verb reads the same whichever run folder it is given.
    """

    name: str
    help: str
    arguments: Callable[[ArgumentParser], None]
    handler: Callable[[Any, Namespace, Output], int]


@dataclass(frozen=True)
class Experiment:
    name: str
    summary: str
    presets: dict[str, Any]  # preset name -> configuration (a frozen dataclass)
    run: Callable[..., Any]
    default_preset: str = "default"
    preset_notes: dict[str, str] = field(default_factory=dict)
    commands: tuple[Command, ...] = ()
    # Networks of a few units train on one thread: their products are too small to share, and
    # a second OpenMP thread only adds a synchronisation per op (see train.runtime.one_thread).
    one_thread: bool = False

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

    def command(self, name: str) -> Command | None:
        return next((c for c in self.commands if c.name == name), None)


REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    if experiment.name in REGISTRY:
        raise ValueError(f"experiment {experiment.name!r} is registered twice")
    for command in experiment.commands:
        other = next((c for c in commands().get(command.name, []) if c is not command), None)
        if other is not None and other.arguments is not command.arguments:
            raise ValueError(
                f"{experiment.name!r} offers `seqlab {command.name}` with other arguments than "
                "another experiment; share one arguments function"
            )
    REGISTRY[experiment.name] = experiment
    return experiment


def get(name: str) -> Experiment:
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY)) or "(none)"
        raise ConfigError(f"unknown experiment {name!r}; `seqlab list` shows them: {known}")
    return REGISTRY[name]


def commands() -> dict[str, list[Command]]:
    """Every verb the registered experiments offer -> its Command of each experiment."""
    found: dict[str, list[Command]] = {}
    for experiment in REGISTRY.values():
        for command in experiment.commands:
            found.setdefault(command.name, []).append(command)
    return found


def offering(verb: str) -> list[str]:
    """The experiments whose run folders ``seqlab VERB`` works with."""
    return [e.name for e in REGISTRY.values() if e.command(verb) is not None]
