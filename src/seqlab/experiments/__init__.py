"""Experiments: where data, model, trainer, analysis and plots meet.

Importing this package imports every module and subpackage in it — each experiment registers
itself there — and the experiments other packages declare under the ``seqlab.experiments``
entry point group. Shared helpers (the registry, run folders, sweeps, the tagging task) are
modules here too; they simply register nothing.
"""

import importlib
import pkgutil
from importlib.metadata import entry_points

from .registry import REGISTRY, Command, Experiment, Output, commands, get, offering, register


def _discover() -> None:
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    for entry in entry_points(group="seqlab.experiments"):
        entry.load()


_discover()

__all__ = [
    "REGISTRY",
    "Command",
    "Experiment",
    "Output",
    "commands",
    "get",
    "offering",
    "register",
]
