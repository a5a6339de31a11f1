"""The recurrent engine: RNN, LSTM and GRU with hand-derived backpropagation through time."""

from .cell import GRUCell, LSTMCell, RNNCell
from .compat import from_torch, to_torch
from .gru import GRU
from .lstm import LSTM
from .rnn import RNN

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell", "from_torch", "to_torch"]
