"""The LSTM's compiled tier (``csrc/lstm.cpp``, ``csrc/lstm_backward.cpp``), and the weight
gradients after the time loop that both tiers share.

The C++ loops compute what :func:`seqlab.recurrent.lstm.lstm_forward` and
:func:`~seqlab.recurrent.lstm.lstm_backward` compute (those are the specification, and the
fallback); :func:`forward` and :func:`backward` here hand back their results in the same form,
so :class:`~seqlab.recurrent.lstm.LSTMFunction` does not care which tier ran. The only
difference in form: the layer norm's per-step tensors come stacked over time
(:func:`stacked_steps` and :func:`per_step` convert).
"""

import torch
from torch import Tensor

from . import gemm
from .gemm import linear, t_matmul
from .pointwise import layer_norm_backward

PEEPHOLE_CODE = {None: 0, "diagonal": 1, "full": 2}
LN_NAMES = ("ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias", "ln_c_weight", "ln_c_bias")


def _ln(p: dict, use_ln: bool) -> list[Tensor]:
    return [p[name] for name in LN_NAMES] if use_ln else []


def stacked_steps(steps: list[tuple]) -> list[Tensor]:
    """The Python forward's per-step layer-norm tuples as six tensors stacked over time."""
    return [torch.stack(column) for column in zip(*steps, strict=True)]


def per_step(stacked: list[Tensor]) -> list[tuple]:
    """Six tensors stacked over time as the Python backward's per-step tuples."""
    return list(zip(*(s.unbind(0) for s in stacked), strict=True))


def forward(ext, x, h0, c0, p, peephole, use_ln, mask):
    """``lstm_forward(x, h0, c0, p, peephole, use_ln, mask)`` by the compiled loop: ``(out,
    saved)`` with the layer norm's per-step tensors stacked."""
    w_hr = p.get("weight_hr")
    result = ext.lstm_forward(
        x,
        h0,
        c0,
        p["weight_ih"],
        p["weight_hh"],
        p["bias_ih"],
        p["bias_hh"],
        w_hr,
        p.get("weight_peephole"),
        PEEPHOLE_CODE[peephole],
        _ln(p, use_ln),
        mask,
        gemm.ONEDNN_AVAILABLE,
    )
    gates, cells, hidden, tanh_c, *rest = result
    unprojected = rest.pop(0) if w_hr is not None else None
    ln_ih, ln_steps = (tuple(rest[:3]), rest[3:]) if use_ln else (None, None)
    out = hidden[1:] if mask is None else hidden[1:] * mask
    return out, (gates, cells, hidden, tanh_c, unprojected, ln_ih, ln_steps)


def backward(ext, d_out, d_hT, d_cT, x, p, saved, peephole, use_ln, mask, keep_cell_grads):
    """``lstm_backward(...)`` by the compiled loop, from saved tensors in :func:`forward`'s
    form. A gradient the loop does not take as it is (the zero strides of ``out.sum()``'s) is
    made contiguous first."""
    gates, cells, _, tanh_c, _, _, ln_steps = saved
    dh0, dc0, dA, dA_hh, d_hidden, d_cells, d_cln, d_ln_hh_gain, d_ln_c_gain = ext.lstm_backward(
        d_out.contiguous(),
        d_hT.contiguous(),
        d_cT.contiguous(),
        p["weight_hh"],
        p.get("weight_hr"),
        p.get("weight_peephole"),
        PEEPHOLE_CODE[peephole],
        _ln(p, use_ln),
        gates,
        cells,
        tanh_c,
        list(ln_steps or []),
        mask,
        keep_cell_grads,
        gemm.ONEDNN_AVAILABLE,
    )
    gains = (d_ln_hh_gain, d_ln_c_gain) if use_ln else None
    dA_hh = dA if dA_hh is None else dA_hh
    dx, grads = weight_grads(x, p, saved, dA, dA_hh, d_hidden, d_cln, gains, peephole, mask)
    return dx, dh0, dc0, grads, dA, d_cells


def weight_grads(x, p, saved, dA, dA_hh, d_hidden, d_cln, ln_gains, peephole, mask):
    """∂E/∂x and every parameter's gradient from the loop's ∂E/∂A_t (``dA``, (T, B, 4H)),
    ∂E/∂(U h_{t-1}) (``dA_hh``), δh_t (``d_hidden``, with a projection), ∂E/∂LN_c(c_t)
    (``d_cln``) and the layer-norm gains' gradients summed over steps (``ln_gains``, or
    ``None`` without layer norm): one GEMM or reduction each over the whole sequence."""
    _, cells, hidden, _, unprojected, ln_ih, _ = saved
    T, B, _ = x.shape
    H = cells.shape[-1]
    dA4 = dA.view(T, B, 4, H)
    w_hr = p.get("weight_hr")
    flat = dA.view(T * B, 4 * H)
    grads = {"weight_hh": t_matmul(dA_hh.view(T * B, -1), hidden[:-1].reshape(T * B, -1))}
    if w_hr is not None:  # h_t = W_hr (o ⊙ tanh(c_t)); a masked step's h_t only carries
        kept = unprojected if mask is None else unprojected * mask
        grads["weight_hr"] = t_matmul(d_hidden.view(T * B, -1), kept.view(T * B, H))
    d_proj = flat
    if ln_gains is not None:
        # A_t = LN_ih(W x_t) + LN_hh(U h_{t-1}) + b: both LNs receive ∂E/∂A_t
        d_proj, grads["ln_ih_weight"], _ = layer_norm_backward(dA, *ln_ih, p["ln_ih_weight"], True)
        d_proj = d_proj.view(T * B, -1)
        grads["ln_ih_bias"] = grads["ln_hh_bias"] = flat.sum(0)
        grads["ln_hh_weight"], grads["ln_c_weight"] = ln_gains
        grads["ln_c_bias"] = d_cln.sum((0, 1))
    grads["weight_ih"] = t_matmul(d_proj, x.reshape(T * B, -1))
    dx = linear(d_proj, p["weight_ih"].T.contiguous()).view(T, B, -1)
    if p["bias_ih"] is not None:
        grads["bias_ih"] = grads["bias_hh"] = flat.sum(0)
    if peephole == "diagonal":
        c_prev, c_t = cells[:-1], cells[1:]
        grads["weight_peephole"] = torch.stack(
            [
                (dA4[:, :, 0] * c_prev).sum((0, 1)),
                (dA4[:, :, 1] * c_prev).sum((0, 1)),
                (dA4[:, :, 3] * c_t).sum((0, 1)),
            ]
        )
    elif peephole == "full":
        grads["weight_peephole"] = t_matmul(
            dA4[:, :, 3].reshape(T * B, H), cells[1:].reshape(T * B, H)
        )
    return dx, grads
