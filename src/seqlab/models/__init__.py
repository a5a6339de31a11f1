"""Models built from the engine: embeddings, recurrent stacks and read-outs."""

from .charlm import CharLM

__all__ = ["CharLM"]
