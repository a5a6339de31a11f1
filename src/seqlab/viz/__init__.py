"""Plotting functions: each takes data and returns a matplotlib Figure (never shows or saves)."""

from .curves import loss_curves

__all__ = ["loss_curves"]
