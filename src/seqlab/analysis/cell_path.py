r"""The LSTM's cell path: why its error survives where the vanilla RNN's vanishes.

Along the cell, ``c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t``, so the part of ``∂E/∂c_t`` that comes from
``c_T`` through the cell alone is

    ∂E/∂c_t ⊇ ∂E/∂c_T ⊙ ∏_{s=t+1}^{T} f_s          (elementwise, per unit)

which stays near ``∂E/∂c_T`` while the forget gates stay near 1, with no ``φ'(A) U`` factor per
step as in the vanilla RNN's ``δ_{t-1} = (δ_t ⊙ φ'(A_t)) U``.
"""

import torch
from torch import Tensor

from ..recurrent import LSTM


@torch.no_grad()
def forget_gates(lstm: LSTM, x: Tensor) -> Tensor:
    """f_t of layer 0, forward direction: x (B, T, I) batch-first -> (B, T, H).

    Plain LSTMs only (no peephole or layer norm): ``f_t = σ(W_f x_t + b_f + U_f h_{t-1})``
    with torch's gate order i, f, g, o.
    """
    if getattr(lstm, "peephole", None) or getattr(lstm, "layer_norm", False):
        raise ValueError("forget_gates reads plain LSTMs only (no peephole, no layer norm)")
    if not lstm.batch_first or lstm.num_layers != 1 or lstm.bidirectional:
        raise ValueError("forget_gates reads one-layer, one-direction, batch_first LSTMs")
    H = lstm.hidden_size
    out, _ = lstm(x)  # (B, T, H): h_1 .. h_T; the gates of step t read h_{t-1}
    h_prev = torch.cat([torch.zeros_like(out[:, :1]), out[:, :-1]], 1)  # (B, T, H)
    sl = slice(H, 2 * H)  # the f rows of the (4H, ·) weights
    a = x @ lstm.weight_ih_l0[sl].T + h_prev @ lstm.weight_hh_l0[sl].T
    if lstm.bias:
        a = a + lstm.bias_ih_l0[sl] + lstm.bias_hh_l0[sl]
    return torch.sigmoid(a)


def cell_path_product(forget: Tensor) -> Tensor:
    """∏_{s=t+1}^{T} f_s for every t: forget (B, T, H) -> (B, T, H); the last frame's is 1."""
    ones = torch.ones_like(forget[:, :1])
    later = torch.cat([forget[:, 1:], ones], 1)  # f_{t+1}, ..., 1
    return later.flip(1).cumprod(1).flip(1)
