"""A synced many-to-many network: a recurrent layer read out at every frame.

    z_t = RNN(x_t, z_{t-1})     (B, T, H)   seqlab RNN / LSTM / GRU
    o_t = V z_t + b_y           (B, T, O)   logits or values; the loss applies σ or softmax

With ``cell="rnn"`` and ``nonlinearity="sigmoid"`` and a sigmoid on ``o_t`` this is the
lecture's network ``z_t = σ(W x_t + U z_{t-1} + b_x)``, ``o_t = σ(V z_t + b_y)``.
"""

from torch import Tensor, nn

from .. import recurrent
from ..errors import InputError

CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def recurrent_layer(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    nonlinearity: str = "tanh",
    backend: str = "seqlab",
    **kwargs,
) -> nn.Module:
    """A batch-first seqlab RNN/LSTM/GRU; ``nonlinearity`` applies to ``cell="rnn"`` only."""
    if cell not in CELLS:
        raise InputError(f"cell={cell!r}: expected one of {sorted(CELLS)}")
    if cell == "rnn":
        kwargs["nonlinearity"] = nonlinearity
    cls = getattr(recurrent, CELLS[cell])
    return cls(input_size, hidden_size, num_layers, batch_first=True, backend=backend, **kwargs)


class SequenceTagger(nn.Module):
    """Args:
    cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
    input_size: ``I``; hidden_size: ``H``; output_size: ``O``.
    nonlinearity: the vanilla RNN's φ (tanh, sigmoid, relu, linear).
    backend: ``"seqlab"`` (hand-derived BPTT; records gradient flow) or ``"auto"``.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        nonlinearity: str = "tanh",
        backend: str = "seqlab",
        num_layers: int = 1,
    ):
        super().__init__()
        self.cell = cell
        self.rnn = recurrent_layer(cell, input_size, hidden_size, num_layers, nonlinearity, backend)
        self.readout = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor, state=None) -> tuple[Tensor, object]:
        """x (B, T, I) -> outputs (B, T, O) and the final state."""
        z, state = self.rnn(x, state)  # (B, T, H)
        return self.readout(z), state
