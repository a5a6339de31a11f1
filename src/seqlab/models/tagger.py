"""A synced many-to-many network: a recurrent layer read out at every frame.

    z_t = RNN(x_t, z_{t-1})     (B, T, H)   seqlab RNN / LSTM / GRU
    o_t = V z_t + b_y           (B, T, O)   logits or values; the loss applies σ or softmax

With ``cell="rnn"`` and ``nonlinearity="sigmoid"`` and a sigmoid on ``o_t`` this is the
lecture's network ``z_t = σ(W x_t + U z_{t-1} + b_x)``, ``o_t = σ(V z_t + b_y)``.
"""

from torch import Tensor, nn

from .layers import recurrent_layer


class SequenceTagger(nn.Module):
    """A recurrent layer and a linear read-out at every frame.

    Args:
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        input_size: ``I``; hidden_size: ``H``; output_size: ``O``.
        nonlinearity: the vanilla RNN's φ (tanh, sigmoid, relu, linear).
        backend: ``"seqlab"`` (hand-derived BPTT; records gradient flow), ``"auto"``, ``"torch"``
            or ``"torch.nn"`` (see :mod:`seqlab.models.layers`).
        num_layers: ``L`` stacked layers.

    Inputs: ``x`` (B, T, I) float, ``state`` (optional) as the recurrent module takes it.
    Outputs: ``o`` (B, T, O) and the final state.

    Example::

        >>> tagger = SequenceTagger("lstm", input_size=1, hidden_size=10, output_size=1)
        >>> out, state = tagger(torch.randn(8, 50, 1))
        >>> out.shape
        torch.Size([8, 50, 1])
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
        self.rnn = recurrent_layer(
            cell, input_size, hidden_size, num_layers, backend=backend, nonlinearity=nonlinearity
        )
        self.readout = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor, state=None) -> tuple[Tensor, object]:
        z, state = self.rnn(x, state)  # (B, T, H)
        return self.readout(z), state  # (B, T, O)
