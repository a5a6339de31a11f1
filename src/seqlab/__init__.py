"""seqlab: recurrent networks and attention models from their equations."""

from . import analysis, attention, decode, serialization
from .errors import (
    BackendError,
    CheckpointError,
    ConfigError,
    DataError,
    DivergedError,
    ExportError,
    InputError,
    SeqlabError,
    ShapeError,
)
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, from_torch, to_torch

# torch.load(f) of a whole model holding seqlab modules, under its default weights_only=True.
serialization.register_safe_globals()
from . import models  # noqa: E402 - imported by the registration above; exported here

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "RNN",
    "RNNCell",
    "from_torch",
    "to_torch",
    "SeqlabError",
    "ShapeError",
    "InputError",
    "BackendError",
    "ExportError",
    "ConfigError",
    "DataError",
    "CheckpointError",
    "DivergedError",
    "analysis",
    "attention",
    "decode",
    "models",
    "__version__",
]
