"""Plotting functions: each takes data and returns a matplotlib Figure (never shows or saves)."""

from .alignment import Alignment, alignment_figure, alignment_grid, score_by_length
from .curves import loss_curves

__all__ = ["Alignment", "alignment_figure", "alignment_grid", "loss_curves", "score_by_length"]
