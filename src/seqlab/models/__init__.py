"""Models built from the engine: embeddings, recurrent stacks, attention and read-outs."""

from .charlm import CharLM
from .seq2seq import Seq2Seq

__all__ = ["CharLM", "Seq2Seq"]
