"""The compiled GRU and RNN time loops (``csrc/gru.cpp``, ``csrc/rnn.cpp``) called with the
arguments of the Python kernels in :mod:`.gru` and :mod:`.rnn`, returning what those return.

The forwards return the same saved buffers as ``gru_forward`` / ``rnn_forward``; the backwards
run the δ chain only (the loop over time), and the Functions finish with the same sums over
time as the Python kernels. Layouts the loops do not take (the zero-stride gradient of
``out.sum()``) are made contiguous here.
"""

from . import gemm


def gru_forward(ext, x, h0, w_ih, w_hh, b_ih, b_hh, ln, mask, reset, needs_backward):
    """As :func:`.gru.gru_forward`: (out, states, (gates, candidate, *ln_ih), ln_hh_steps)."""
    *tensors, ln_ih, ln_flat = ext.gru_forward(
        x, h0, w_ih, w_hh, b_ih, b_hh, *(ln or (None,) * 4), mask,
        reset == "after", needs_backward, gemm.ONEDNN_AVAILABLE,
    )  # fmt: skip
    out, states, gates, candidate = tensors
    per_step = 3 if reset == "after" else 6  # (input, mean, rstd) of each LN_hh
    ln_steps = [tuple(ln_flat[k : k + per_step]) for k in range(0, len(ln_flat), per_step)]
    return out, states, (gates, candidate, *(ln_ih or [None] * 3)), ln_steps


def gru_delta_chain(ext, d_out, d_hT, w_hh, ln, states, saved, ln_steps, mask, reset):
    """The GRU's loop over time backwards: (∂E/∂A (T, B, 3H), the recurrent projections'
    gradient (T, B, 3H), dh0, (LN_hh's gain and shift gradients) or None)."""
    gates, candidate, *_ = saved
    dA, d_projection, dh0, d_ln_hh = ext.gru_backward(
        d_out.contiguous(), d_hT.contiguous(), w_hh, states, gates, candidate,
        None if ln is None else ln[2], [t for step in ln_steps for t in step], mask,
        reset == "after", gemm.ONEDNN_AVAILABLE,
    )  # fmt: skip
    return dA, d_projection, dh0, None if ln is None else (*d_ln_hh, None)[:2]


def rnn_forward(ext, x, h0, w_ih, w_hh, b_ih, b_hh, mask, nonlinearity):
    """As :func:`.rnn.rnn_forward`: (out, states)."""
    onednn = gemm.ONEDNN_AVAILABLE
    return ext.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, mask, nonlinearity, onednn)


def rnn_delta_chain(ext, d_out, d_hT, w_hh, states, mask, nonlinearity):
    """The RNN's loop over time backwards: (∂E/∂A (T, B, H), dh0)."""
    d_out, d_hT, onednn = d_out.contiguous(), d_hT.contiguous(), gemm.ONEDNN_AVAILABLE
    return ext.rnn_backward(d_out, d_hT, w_hh, states, mask, nonlinearity, onednn)
