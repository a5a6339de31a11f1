"""Corpora, vocabularies and batching."""

from .shakespeare import load_shakespeare
from .text import CharVocab, StreamBatches, read_text_file

__all__ = ["CharVocab", "StreamBatches", "load_shakespeare", "read_text_file"]
