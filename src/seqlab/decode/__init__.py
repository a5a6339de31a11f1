"""Turning a model's scores into sequences: sampling (temperature, top-k) and greedy."""

from .sampling import generate, sample_next

__all__ = ["generate", "sample_next"]
