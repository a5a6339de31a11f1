"""Turning a model's scores into sequences: sampling (temperature, top-k), greedy, beam search."""

from .sampling import generate, sample_next, sample_stream
from .search import Hypothesis, beam_search, greedy, repeat_state, select_state

__all__ = [
    "Hypothesis",
    "beam_search",
    "generate",
    "greedy",
    "repeat_state",
    "sample_next",
    "sample_stream",
    "select_state",
]
