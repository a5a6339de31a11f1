"""Experiments: where data, model, trainer, analysis and plots meet. Importing this package
registers every experiment."""

from . import charlm, delay, product, spectrum, topologies, vanishing  # noqa: F401 - each registers itself
from .registry import REGISTRY, Experiment, get, register

__all__ = ["REGISTRY", "Experiment", "get", "register"]
