r"""What a small LSTM does inside: its gates, cell states and outputs at every frame.

For a plain one-layer LSTM (torch's gate order i, f, g, o):

    i_t = σ(W_i x_t + b_i + U_i h_{t-1})      input gate
    f_t = σ(W_f x_t + b_f + U_f h_{t-1})      forget gate
    g_t = tanh(W_g x_t + b_g + U_g h_{t-1})   cell input
    o_t = σ(W_o x_t + b_o + U_o h_{t-1})      output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t           cell state
    h_t = o_t ⊙ tanh(c_t)                     output

computed here step by step from the module's weights, for plotting (a few units, short inputs).
"""

import torch
from torch import Tensor


@torch.no_grad()
def lstm_internals(lstm, x: Tensor) -> dict[str, Tensor]:
    """i, f, g, o, c and h of every frame: x (B, T, I) batch-first -> each (B, T, H).

    Plain one-layer, one-direction, batch-first LSTMs (seqlab's or torch.nn's) with zero initial
    state; ``h`` equals the module's own output (the tests check it).
    """
    if getattr(lstm, "peephole", None) or getattr(lstm, "layer_norm", False):
        raise ValueError("lstm_internals reads plain LSTMs only (no peephole, no layer norm)")
    if not lstm.batch_first or lstm.num_layers != 1 or lstm.bidirectional:
        raise ValueError("lstm_internals reads one-layer, one-direction, batch_first LSTMs")
    H = lstm.hidden_size
    a_in = x @ lstm.weight_ih_l0.T  # (B, T, 4H): W x_t for every t, one product
    if lstm.bias:
        a_in = a_in + lstm.bias_ih_l0 + lstm.bias_hh_l0
    h = x.new_zeros(x.shape[0], H)
    c = x.new_zeros(x.shape[0], H)
    found: dict[str, list[Tensor]] = {k: [] for k in "ifgoch"}
    for t in range(x.shape[1]):
        a = a_in[:, t] + h @ lstm.weight_hh_l0.T  # (B, 4H)
        i, f, o = (torch.sigmoid(a[:, k * H : (k + 1) * H]) for k in (0, 1, 3))
        g = torch.tanh(a[:, 2 * H : 3 * H])
        c = f * c + i * g
        h = o * torch.tanh(c)
        for name, value in zip("ifgoch", (i, f, g, o, c, h), strict=True):
            found[name].append(value)
    return {name: torch.stack(values, 1) for name, values in found.items()}
