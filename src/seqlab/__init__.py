"""seqlab: recurrent networks and attention models from their equations."""

from . import analysis, attention, decode
from .errors import BackendError, InputError, SeqlabError, ShapeError
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "RNN",
    "RNNCell",
    "SeqlabError",
    "ShapeError",
    "InputError",
    "BackendError",
    "analysis",
    "attention",
    "decode",
    "__version__",
]
