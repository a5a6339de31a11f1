"""Corpora, vocabularies and batching."""

from .bible import Verse, load_bible
from .dates import DatePair, sample_pairs
from .shakespeare import load_shakespeare
from .text import CharVocab, StreamBatches, read_text_file
from .vocab import TokenVocab, char_tokens, detokenize, word_tokens

__all__ = [
    "CharVocab",
    "DatePair",
    "StreamBatches",
    "TokenVocab",
    "Verse",
    "char_tokens",
    "detokenize",
    "load_bible",
    "load_shakespeare",
    "read_text_file",
    "sample_pairs",
    "word_tokens",
]
