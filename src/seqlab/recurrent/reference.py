"""Plain autograd reference loops: the equations of every cell family and variant, step by step.

These are what a user writes for a variant ``torch.nn`` lacks: readable, differentiable by
autograd, and slow. They are the specification the hand-derived kernels are tested against
(float64, values and gradients) and the "plain autograd loop" column of the benchmarks.

Every function runs one layer in one direction. Shapes: ``x`` (T, B, I), states (B, H),
``mask`` (T, B, 1) bool or ``None``; returns ``out`` (T, B, H) and the final state(s).
A masked step (``mask[t, b]`` false, i.e. past that sequence's length) leaves the state
unchanged and outputs zeros, which is how ``torch.nn`` treats packed sequences; the reverse
direction therefore starts each sequence at its own last valid step.

``params`` holds the layer's tensors under their names without the ``_l{k}`` suffix:
``weight_ih`` (G·H, I), ``weight_hh`` (G·H, H), ``bias_ih`` and ``bias_hh`` (G·H,) or ``None``,
and the variants' ``weight_peephole``, ``ln_ih_weight``/``ln_ih_bias`` (G·H,),
``ln_hh_weight``/``ln_hh_bias`` (G·H,), ``ln_c_weight``/``ln_c_bias`` (H,).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .pointwise import LAYER_NORM_EPS

Params = dict[str, Tensor | None]


def _ln(x: Tensor, params: Params, name: str, sl: slice = slice(None)) -> Tensor:
    weight, bias = params[f"ln_{name}_weight"], params[f"ln_{name}_bias"]
    return F.layer_norm(x, x.shape[-1:], weight[sl], bias[sl], LAYER_NORM_EPS)


def _bias(params: Params, name: str, sl: slice = slice(None)) -> Tensor | float:
    b = params[name]
    return 0.0 if b is None else b[sl]


def _steps(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


def _run(x, states, mask, reverse, step: Callable) -> tuple[Tensor, tuple[Tensor, ...]]:
    # unbind, not x[t]: a torch.jit.trace of the loop then refuses another number of steps
    inputs = x.unbind(0)
    outputs: list[Tensor | None] = [None] * len(inputs)
    for t in _steps(len(inputs), reverse):
        new = step(inputs[t], *states)
        if mask is None:
            states = new
            outputs[t] = new[0]
        else:
            m = mask[t]
            states = tuple(torch.where(m, n, s) for n, s in zip(new, states, strict=True))
            outputs[t] = torch.where(m, new[0], torch.zeros_like(new[0]))
    return torch.stack(outputs), states


ACTIVATIONS = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "linear": lambda a: a,
}


def rnn_layer(x, h0, params: Params, nonlinearity="tanh", mask=None, reverse=False):
    """Elman RNN: ``h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, φ in tanh, relu, sigmoid,
    linear."""
    act = ACTIVATIONS[nonlinearity]

    def step(x_t, h):
        a = x_t @ params["weight_ih"].T + _bias(params, "bias_ih")
        a = a + h @ params["weight_hh"].T + _bias(params, "bias_hh")
        return (act(a),)

    out, (h,) = _run(x, (h0,), mask, reverse, step)
    return out, h


def lstm_layer(
    x, h0, c0, params: Params, peephole=None, layer_norm=False, mask=None, reverse=False
):
    """LSTM with gates in torch's order i, f, g, o.

    ``A = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh`` (with ``layer_norm``:
    ``A = LN_ih(W_ih x_t) + LN_hh(W_hh h_{t-1}) + b_ih + b_hh``), split as ``A_i, A_f, A_g, A_o``.

    - ``peephole=None``:        i = σ(A_i), f = σ(A_f), o = σ(A_o)
    - ``peephole="diagonal"``:  i = σ(A_i + p_i ⊙ c_{t-1}), f = σ(A_f + p_f ⊙ c_{t-1}),
      o = σ(A_o + p_o ⊙ c_t), with ``weight_peephole`` = [p_i; p_f; p_o] of shape (3, H)
    - ``peephole="full"``:      i = σ(A_i), f = σ(A_f), o = σ(A_o + V_o c_t), with
      ``weight_peephole`` = V_o of shape (H, H) (the lecture's output gate)

    g = tanh(A_g), c_t = f ⊙ c_{t-1} + i ⊙ g, h_t = o ⊙ tanh(c_t)
    (with ``layer_norm``: h_t = o ⊙ tanh(LN_c(c_t)); with ``weight_hr`` (P, H), torch's
    projection: h_t = W_hr (o ⊙ tanh(c_t)), so h has P features).
    """

    def step(x_t, h, c):
        xa, ha = x_t @ params["weight_ih"].T, h @ params["weight_hh"].T
        if layer_norm:
            xa, ha = _ln(xa, params, "ih"), _ln(ha, params, "hh")
        a = xa + ha + _bias(params, "bias_ih") + _bias(params, "bias_hh")
        a_i, a_f, a_g, a_o = a.chunk(4, dim=-1)
        if peephole == "diagonal":
            p = params["weight_peephole"]
            a_i, a_f = a_i + p[0] * c, a_f + p[1] * c
        i, f, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g)
        c_new = f * c + i * g
        if peephole == "diagonal":
            a_o = a_o + params["weight_peephole"][2] * c_new
        elif peephole == "full":
            a_o = a_o + c_new @ params["weight_peephole"].T
        o = torch.sigmoid(a_o)
        c_out = _ln(c_new, params, "c") if layer_norm else c_new
        h_new = o * torch.tanh(c_out)
        if params.get("weight_hr") is not None:
            h_new = h_new @ params["weight_hr"].T
        return h_new, c_new

    out, (h, c) = _run(x, (h0, c0), mask, reverse, step)
    return out, (h, c)


def gru_layer(x, h0, params: Params, reset="after", layer_norm=False, mask=None, reverse=False):
    """GRU with gates in torch's order r, z, n.

    r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}, and the candidate

    - ``reset="after"`` (torch, cuDNN):  n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    - ``reset="before"`` (Cho et al. 2014, the lecture):
      n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)

    With ``layer_norm`` the input projection ``W_ih x`` (3H) is normalised with ``ln_ih``; the
    recurrent projection with ``ln_hh``: as one 3H vector ``W_hh h`` for ``reset="after"``;
    for ``reset="before"`` as the 2H vector ``W_h{r,z} h`` (``ln_hh[:2H]``) and the H vector
    ``W_hn (r ⊙ h)`` (``ln_hh[2H:]``). Biases are added after normalisation.
    """
    H = h0.shape[-1]
    rz, n_ = slice(0, 2 * H), slice(2 * H, 3 * H)
    w_hh = params["weight_hh"]

    def step(x_t, h):
        xa = x_t @ params["weight_ih"].T
        if layer_norm:
            xa = _ln(xa, params, "ih")
        xa = xa + _bias(params, "bias_ih")
        if reset == "after":
            ha = h @ w_hh.T
            if layer_norm:
                ha = _ln(ha, params, "hh")
            ha = ha + _bias(params, "bias_hh")
            r, z = torch.sigmoid(xa[:, rz] + ha[:, rz]).split(H, dim=-1)
            n = torch.tanh(xa[:, n_] + r * ha[:, n_])
        else:
            ha = h @ w_hh[rz].T
            if layer_norm:
                ha = _ln(ha, params, "hh", rz)
            r, z = torch.sigmoid(xa[:, rz] + ha + _bias(params, "bias_hh", rz)).split(H, dim=-1)
            hn = (r * h) @ w_hh[n_].T
            if layer_norm:
                hn = _ln(hn, params, "hh", n_)
            n = torch.tanh(xa[:, n_] + hn + _bias(params, "bias_hh", n_))
        return ((1 - z) * n + z * h,)

    out, (h,) = _run(x, (h0,), mask, reverse, step)
    return out, h
