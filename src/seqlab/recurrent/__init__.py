"""The recurrent engine: RNN, LSTM and GRU with hand-derived backpropagation through time."""

from .compat import from_torch, to_torch
from .gru import GRU, GRUCell
from .lstm import LSTM, LSTMCell
from .rnn import RNN, RNNCell

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell", "from_torch", "to_torch"]
