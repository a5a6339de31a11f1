r"""The vanilla (Elman) RNN: forward and hand-derived BPTT over a whole sequence.

Equations, lecture notation with ``torch.nn`` names (one layer, one direction)::

    A_{z_t} = W x_t + U z_{t-1} + b        W = weight_ih (H, I), U = weight_hh (H, H),
    z_t     = φ(A_{z_t})                   b = bias_ih + bias_hh (H,), z_t = h_t
    φ ∈ {tanh, relu, sigmoid, linear}      (sigmoid is the lecture's σ; linear is φ(a) = a, the
                                           case the spectrum of U alone decides; torch has neither)

Shapes: x (T, B, I), z_0 (B, H), output (T, B, H). Equivalent to the loop in
:func:`seqlab.recurrent.reference.rnn_layer`.

BPTT. With δ_t = ∂E/∂z_t (from the output at t and from step t+1)::

    ∂E/∂A_{z_t} = δ_t ⊙ φ'(A_{z_t})       φ' = 1 - z_t² (tanh), 1[z_t > 0] (relu), z_t(1 - z_t) (σ),
                                           1 (linear)
    δ_{t-1}     = ∂E/∂y_{t-1} + (∂E/∂A_{z_t}) U
    ∂E/∂W = Σ_t (∂E/∂A_{z_t})ᵀ x_t,  ∂E/∂U = Σ_t (∂E/∂A_{z_t})ᵀ z_{t-1},  ∂E/∂b = Σ_t ∂E/∂A_{z_t}

Only the two lines in δ are sequential; φ' for all steps, and the three sums, are each one
vectorised op or one GEMM over the whole sequence.

tanh through the sigmoid. With s_t = σ(2 A_{z_t}), z_t = 2 s_t - 1, and the recurrence can run
in s directly: 2 A_{z_t} = 2(W x_t + b - U 1) + 4 U s_{t-1}. The loop is then one GEMM and one
sigmoid per step (ATen's CPU tanh costs ~7 sigmoids), and z = 2s - 1 is one op afterwards.
The products go through :mod:`.gemm` (oneDNN for large float32 ones). Where the compiled tier is
built, CPU float tensors run the same loops in C++ (``csrc/rnn.cpp``, tanh computed directly).
"""

from functools import partial

import torch
from torch import Tensor

from ..errors import InputError
from ..functions import reference_backward
from . import gru_rnn_compiled as compiled_rnn
from . import reference
from .base import RecurrentBase
from .compiled import kernels_for
from .gemm import bind_add_linear_, linear, t_matmul
from .pointwise import use_sigmoid_tanh
from .trace import GradientTrace, TraceKey, check_no_graph

NONLINEARITIES = ("tanh", "relu", "sigmoid", "linear")
# Order of the parameter tensors the Function takes after x, h0.
PARAM_ORDER = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
# Each takes ``out=`` so the loop writes the state buffer directly.
_ACTIVATIONS = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": lambda a, out: torch.clamp_min(a, 0.0, out=out),
    "linear": lambda a, out: out.copy_(a),
}


def _project(x: Tensor, w_ih: Tensor, b_ih, b_hh) -> Tensor:
    """W x_t + b for all steps as one GEMM: (T, B, I) -> (T, B, H)."""
    T, B, _ = x.shape
    xw = linear(x.reshape(T * B, -1), w_ih)  # (T·B, H)
    if b_ih is not None:
        xw += b_ih + b_hh
    return xw.view(T, B, -1)


def rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, mask, nonlinearity):
    """Returns (out (T, B, H), states (T+1, B, H) with states[0] = h0)."""
    T, B, _ = x.shape
    xw = _project(x, w_ih, b_ih, b_hh)  # (T, B, H)
    states = x.new_empty(T + 1, B, h0.shape[-1])
    via_sigmoid = nonlinearity == "tanh" and use_sigmoid_tanh(h0)
    if via_sigmoid:
        # Run in s = (z + 1) / 2: 2A = 2(Wx + b - U·1) + 4 U s (module docstring).
        xw = (xw - w_hh.sum(1)).mul_(2.0)
        U = w_hh * 4.0
        states[0] = (h0 + 1.0) * 0.5
    else:
        U = w_hh
        states[0] = h0
    act = _ACTIVATIONS["sigmoid" if via_sigmoid else nonlinearity]
    add_recurrent = bind_add_linear_(states[0], U)
    # Per-step views made once: indexing inside the loop costs as much as a small op.
    xs, zs = xw.unbind(0), states.unbind(0)
    for t in range(T):
        a = add_recurrent(xs[t], zs[t])  # A_{z_t} = W x_t + b + U z_{t-1}, in place, (B, H)
        if mask is None:
            act(a, out=zs[t + 1])  # z_t = φ(A_{z_t})
        else:
            torch.where(mask[t], act(a, out=a), zs[t], out=zs[t + 1])
    if via_sigmoid:
        states.mul_(2.0).sub_(1.0)  # z = 2s - 1
    out = states[1:]
    if mask is not None:
        out = out * mask
    return out, states


def rnn_backward(d_out, d_hT, x, w_ih, w_hh, states, mask, nonlinearity, has_bias):
    """Hand-derived BPTT; returns (dx, dh0, dW_ih, dW_hh, db, pre-activation grads)."""
    T, B, _ = x.shape
    z = states[1:]
    # ∂z/∂A for every step at once (φ' in the module docstring).
    if nonlinearity == "tanh":
        deriv = 1.0 - z * z
    elif nonlinearity == "relu":
        deriv = (z > 0).to(z.dtype)
    elif nonlinearity == "linear":
        deriv = torch.ones_like(z)
    else:
        deriv = z * (1.0 - z)
    delta_buf = torch.empty_like(deriv)  # δ_t starts as ∂E/∂y_t; the loop adds the rest
    if mask is None:
        delta_buf.copy_(d_out)
    else:
        deriv = deriv * mask  # a masked step's A has no effect
        torch.mul(d_out, mask, out=delta_buf)
        carry = (~mask).to(x.dtype)
    dA = torch.empty_like(deriv)  # (T, B, H): ∂E/∂A_{z_t}
    deltas, derivs, dAs = delta_buf.unbind(0), deriv.unbind(0), dA.unbind(0)
    delta = deltas[T - 1].add_(d_hT)  # δ_{T-1}
    add_recurrent = bind_add_linear_(delta, w_hh.T.contiguous())  # below += dA_t U
    for t in range(T - 1, -1, -1):
        # z_t = φ(A_{z_t})
        torch.mul(delta, derivs[t], out=dAs[t])
        # A_{z_t} = W x_t + U z_{t-1} + b  ->  δ_{t-1} = ∂E/∂y_{t-1} + dA_t U
        below = deltas[t - 1] if t > 0 else torch.zeros_like(delta)
        if mask is not None:
            below.addcmul_(delta, carry[t])  # masked steps pass δ through
        delta = add_recurrent(below, dAs[t])
    dx, *sums = _sums_over_time(dA, x, w_ih, states, has_bias)
    return dx, delta, *sums


def _sums_over_time(dA, x, w_ih, states, has_bias):
    """From ∂E/∂A_{z_t} (T, B, H): (dx, dW_ih, dW_hh, db, dA)."""
    T, B, _ = x.shape
    # A_{z_t} = W x_t + U z_{t-1} + b, summed over time and batch: one GEMM or reduction each
    dA_flat = dA.view(T * B, -1)  # (T·B, H)
    dx = linear(dA_flat, w_ih.T.contiguous()).view(T, B, -1)  # (T, B, I)
    dW_ih = t_matmul(dA_flat, x.reshape(T * B, -1))
    dW_hh = t_matmul(dA_flat, states[:-1].reshape(T * B, -1))
    db = dA_flat.sum(0) if has_bias else None
    return dx, dW_ih, dW_hh, db, dA


class RNNFunction(torch.autograd.Function):
    """One layer, one direction of the Elman RNN over a whole sequence; with create_graph=True
    its backward is autograd of the reference loop (:mod:`seqlab.functions`)."""

    @staticmethod
    def forward(
        ctx,
        x,
        h0,
        w_ih,
        w_hh,
        b_ih,
        b_hh,
        mask,
        nonlinearity: str,
        trace: GradientTrace | None,
        key: TraceKey | None,
        reverse: bool,
    ):
        ext = kernels_for(x)  # the compiled loop where it runs
        run = rnn_forward if ext is None else partial(compiled_rnn.rnn_forward, ext)
        out, states = run(x, h0, w_ih, w_hh, b_ih, b_hh, mask, nonlinearity)
        ctx.save_for_backward(x, h0, w_ih, w_hh, b_ih, b_hh, states, mask)
        ctx.config = (nonlinearity, b_ih is not None, trace, key, reverse)
        return out, states[-1]

    @staticmethod
    def backward(ctx, d_out, d_hT):
        x, h0, w_ih, w_hh, b_ih, b_hh, states, mask = ctx.saved_tensors
        nonlinearity, has_bias, trace, key, reverse = ctx.config
        if torch.is_grad_enabled():  # create_graph=True: a gradient that differentiates again
            check_no_graph(trace)

            def rnn(x, h0, *params):
                p = dict(zip(PARAM_ORDER, params, strict=True))
                return reference.rnn_layer(x, h0, p, nonlinearity, mask)

            grads = reference_backward(rnn, (x, h0, w_ih, w_hh, b_ih, b_hh), (d_out, d_hT))
            return (*grads, *(None,) * 5)
        ext = kernels_for(x)
        if ext is None:
            dx, dh0, dW_ih, dW_hh, db, dA = rnn_backward(
                d_out, d_hT, x, w_ih, w_hh, states, mask, nonlinearity, has_bias
            )
        else:  # the δ chain compiled, then the same sums over time
            dA, dh0 = compiled_rnn.rnn_delta_chain(
                ext, d_out, d_hT, w_hh, states, mask, nonlinearity
            )
            dx, dW_ih, dW_hh, db, dA = _sums_over_time(dA, x, w_ih, states, has_bias)
        if trace is not None:
            trace.add(key, "pre_activation", dA.flip(0) if reverse else dA)
        return dx, dh0, dW_ih, dW_hh, db, db, None, None, None, None, None


def run_rnn_layer(x, h0, params, mask, reverse, nonlinearity, trace=None, key=None):
    """One layer and direction; the reverse direction runs the kernel on time-flipped tensors."""
    if reverse:
        x = x.flip(0)
        mask = None if mask is None else mask.flip(0)
    out, hT = RNNFunction.apply(
        x,
        h0,
        params["weight_ih"],
        params["weight_hh"],
        params["bias_ih"],
        params["bias_hh"],
        mask,
        nonlinearity,
        trace,
        key,
        reverse,
    )
    return (out.flip(0) if reverse else out), hT


class _RNNFamily:
    _gates = 1

    def _set_variant(self, nonlinearity: str = "tanh") -> None:
        if nonlinearity not in NONLINEARITIES:
            raise InputError(f"nonlinearity={nonlinearity!r}: expected one of {NONLINEARITIES}")
        self.nonlinearity = nonlinearity

    @property
    def _torch_name(self) -> str:
        return f"rnn_{self.nonlinearity}"

    def _torch_unsupported(self) -> str | None:
        if self.nonlinearity in ("sigmoid", "linear"):
            return f"torch.nn.RNN has no {self.nonlinearity} nonlinearity"
        return None

    def _variant_repr(self) -> str:
        return "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"

    def _run_layer(self, x, state, params, mask, reverse, trace, key):
        out, hT = run_rnn_layer(x, state[0], params, mask, reverse, self.nonlinearity, trace, key)
        return out, (hT,)

    def _reference_layer(self, x, state, params, mask, reverse):
        out, hT = reference.rnn_layer(x, *state, params, self.nonlinearity, mask, reverse)
        return out, (hT,)


class RNN(_RNNFamily, RecurrentBase):
    r"""Multi-layer Elman RNN, a drop-in twin of :class:`torch.nn.RNN` with sigmoid and linear
    units and a hand-derived backward.

    For each layer and direction, in the lecture's notation with torch's names (z_t = h_t)::

        A_{z_t} = W x_t + U z_{t-1} + b      W = weight_ih_l{k}, U = weight_hh_l{k},
        z_t     = φ(A_{z_t})                 b = bias_ih_l{k} + bias_hh_l{k}

    φ = ``nonlinearity``: ``"tanh"`` or ``"relu"`` as torch, plus ``"sigmoid"`` (the lecture's
    σ units) and ``"linear"`` (φ(a) = a, where the spectrum of U alone sets the gradient's
    decay). Layer k > 0 reads the previous layer's output (D·H features); between layers,
    dropout with probability ``dropout`` in training. The BPTT equations are in
    :mod:`seqlab.recurrent.rnn`; :func:`seqlab.recurrent.reference.rnn_layer` is the plain loop.

    Args:
        input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, dropout,
            bidirectional: as :class:`torch.nn.RNN`.
        backend: ``"auto"`` (default: torch's fused kernel where the configuration is torch's,
            it is faster and nothing needs the hand-derived path), ``"seqlab"`` (always the
            hand-derived forward and backward) or ``"torch"`` (always torch's kernel).
        device, dtype: of the parameters, as in torch.

    Inputs: ``input`` (L, N, H_in), or (N, L, H_in) with ``batch_first``, or (L, H_in) for one
    unbatched sequence, or a PackedSequence; ``h_0`` (D·num_layers, N, H), zeros if omitted;
    ``lengths`` (N,), optional: each padded sequence's length (past it: zeros out, state kept,
    as packing). Outputs: ``output`` (L, N, D·H), the last layer's h_t at every step (batch
    first, or packed, like the input); ``h_n`` (D·num_layers, N, H), the final state of every
    layer and direction. N batch, L length, D = 2 if bidirectional else 1, H_in input_size,
    H hidden_size.

    Attributes (torch's names; ``_reverse`` for the backward direction):
        weight_ih_l{k}: (H, H_in) for k = 0, else (H, D·H). weight_hh_l{k}: (H, H).
        bias_ih_l{k}, bias_hh_l{k}: (H,). Initialised from U(-1/√H, 1/√H) as torch.

    Example::

        >>> rnn = seqlab.RNN(10, 20, num_layers=2, nonlinearity="sigmoid")
        >>> output, h_n = rnn(torch.randn(5, 3, 10))      # (T, B, I)
        >>> output.shape, h_n.shape
        (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]))
        >>> seqlab.RNN(10, 20).load_state_dict(torch.nn.RNN(10, 20).state_dict())  # both ways
        <All keys matched successfully>
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        nonlinearity="tanh",
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        **kwargs,
    ):
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            nonlinearity=nonlinearity,
            **kwargs,
        )
