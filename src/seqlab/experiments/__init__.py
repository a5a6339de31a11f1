"""Experiments: where data, model, trainer, analysis and plots meet. Importing this package
registers every experiment."""

from . import (  # noqa: F401 - each registers itself
    charlm,
    delay,
    product,
    spectrum,
    topologies,
    translate_bible,
    translate_dates,
    vanishing,
)
from .registry import REGISTRY, Experiment, get, register

__all__ = ["REGISTRY", "Experiment", "get", "register"]
