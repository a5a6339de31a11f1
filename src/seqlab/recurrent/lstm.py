r"""The LSTM, with the peephole and layer-norm variants: forward and hand-derived BPTT.

Equations (one layer, one direction), lecture notation beside ``torch.nn`` names. Gates are
stacked in torch's order i, f, g, o in ``weight_ih`` (4H, I), ``weight_hh`` (4H, H) and the
biases (4H,)::

    A_t = W x_t + b + U h_{t-1}              W = weight_ih, U = weight_hh, b = bias_ih + bias_hh
    i_t = σ(A_i + p_i ⊙ c_{t-1})             peephole terms only with peephole="diagonal"
    f_t = σ(A_f + p_f ⊙ c_{t-1})
    g_t = tanh(A_g)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    o_t = σ(A_o + p_o ⊙ c_t)   or   σ(A_o + V_o c_t)   (peephole="full": the lecture's V_o)
    h_t = o_t ⊙ tanh(c_t)

``weight_peephole`` is [p_i; p_f; p_o] (3, H) for "diagonal" and V_o (H, H) for "full".
With ``layer_norm=True`` (Ba et al. 2016): ``A_t = LN_ih(W x_t) + LN_hh(U h_{t-1}) + b`` with
each LN over all 4H features, and ``h_t = o_t ⊙ tanh(LN_c(c_t))``; parameters ``ln_ih_*``,
``ln_hh_*`` (4H,), ``ln_c_*`` (H,). Shapes: x (T, B, I), h_0, c_0 (B, H), output (T, B, H).
The plain loop is :func:`seqlab.recurrent.reference.lstm_layer`.

BPTT, with δh_t = ∂E/∂h_t and δc_t = ∂E/∂c_t (each from step t and from step t+1)::

    ∂E/∂A_o = δh_t ⊙ tanh(c_t) ⊙ o(1-o)
    δc_t   += δh_t ⊙ o ⊙ (1 - tanh²(c_t)) + (∂E/∂A_o) ⊙ p_o   [or (∂E/∂A_o) V_o]
    ∂E/∂A_i = δc_t ⊙ g ⊙ i(1-i),   ∂E/∂A_f = δc_t ⊙ c_{t-1} ⊙ f(1-f),   ∂E/∂A_g = δc_t ⊙ i ⊙ (1-g²)
    δc_{t-1} = δc_t ⊙ f + (∂E/∂A_i) ⊙ p_i + (∂E/∂A_f) ⊙ p_f
    δh_{t-1} = ∂E/∂y_{t-1} + (∂E/∂A) U

The products that do not involve δ (g·i(1-i), c_{t-1}·f(1-f), ...) are formed for all steps at
once before the loop, so each step costs one GEMM and about five pointwise ops.
The gate sigmoid/tanh pair runs as one sigmoid over i, f, g with the g block of the
pre-activation doubled (tanh(a) = 2σ(2a) - 1, see :mod:`seqlab.recurrent.pointwise`).
"""

import torch
from torch.autograd.function import once_differentiable

from ..errors import InputError
from .base import CellBase, RecurrentBase, layer_norm_shapes
from .gemm import add_linear_, addmm, linear, t_matmul
from .pointwise import layer_norm, layer_norm_backward, use_sigmoid_tanh
from .pointwise import tanh as pointwise_tanh
from .trace import TraceKey

PEEPHOLES = (None, "diagonal", "full")
# Elements of (B, H) per buffer that the backward forms its δ-independent factors for at a
# time: cache-sized (see lstm_backward).
_CHUNK_ELEMENTS = 1 << 16


def lstm_forward(x, h0, c0, p, peephole, use_ln, mask):
    """Returns (out, saved) where saved holds what the backward needs (see lstm_backward).

    ``p``: dict of the layer's tensors (names without the ``_l{k}`` suffix).
    """
    T, B, _ = x.shape
    H = h0.shape[-1]
    w_ih, w_hh = p["weight_ih"], p["weight_hh"]
    # W x_t for all steps in one GEMM; this buffer then receives A_t and the activations.
    gates = linear(x.reshape(T * B, -1), w_ih).view(T, B, 4 * H)  # (T, B, 4H)
    xhat_ih = rstd_ih = None
    if use_ln:
        gates, xhat_ih, rstd_ih = layer_norm(gates, p["ln_ih_weight"], p["ln_ih_bias"])
    if p["bias_ih"] is not None:
        gates += p["bias_ih"] + p["bias_hh"]
    via_sigmoid = use_sigmoid_tanh(h0)
    # One sigmoid over i, f, g: double the g block (tanh(a) = 2σ(2a) - 1). Layer norm adds
    # its own per-step output to A, so it keeps the separate tanh.
    fused = via_sigmoid and not use_ln
    U = w_hh
    if fused:
        gates[:, :, 2 * H : 3 * H] *= 2.0
        U = w_hh.clone()
        U[2 * H : 3 * H] *= 2.0
    cells = x.new_empty(T + 1, B, H)  # carried c_t, cells[0] = c_0
    hidden = x.new_empty(T + 1, B, H)  # carried h_t, hidden[0] = h_0
    tanh_c = x.new_empty(T, B, H)  # tanh(c_t) (of LN_c(c_t)): ATen's tanh is dear to redo
    cells[0], hidden[0] = c0, h0
    ln_hh = [] if use_ln else None  # per step (x_hat, rstd) of LN_hh and LN_c
    peep = p.get("weight_peephole")
    # Per-step views made once: indexing inside the loop costs as much as a small op.
    g4 = gates.view(T, B, 4, H)
    i_s, f_s, g_s, o_s = (g4[:, :, k].unbind(0) for k in range(4))
    # (B, 2, H) blocks i, f, for the diagonal peephole
    if_s = g4[:, :, :2].unbind(0) if peephole == "diagonal" else None
    o_apart = not fused or peephole is not None  # o needs c_t first, or a separate sigmoid
    a_s, hs, cs, tcs = gates.unbind(0), hidden.unbind(0), cells.unbind(0), tanh_c.unbind(0)
    sig_s = gates[:, :, : (3 if fused else 2) * H].unbind(0) if o_apart else a_s
    for t in range(T):
        h, c, a = hs[t], cs[t], a_s[t]
        if use_ln:
            uh, xh_hh, rs_hh = layer_norm(linear(h, U), p["ln_hh_weight"], p["ln_hh_bias"])
            a.add_(uh)
        else:
            add_linear_(a, h, U)  # A_t = W x_t + b + U h_{t-1}
        if peephole == "diagonal":
            if_s[t].addcmul_(peep[:2], c.unsqueeze(1))  # A_{i,f} + p_{i,f} ⊙ c_{t-1}
        torch.sigmoid(sig_s[t], out=sig_s[t])
        i, f, g, o = i_s[t], f_s[t], g_s[t], o_s[t]
        c_new = cs[t + 1] if mask is None else torch.empty_like(c)
        torch.mul(f, c, out=c_new)  # c_t = f ⊙ c_{t-1} + i ⊙ g
        if fused:  # g holds σ(2 A_g) for now: i ⊙ tanh(A_g) = 2 i ⊙ g - i
            c_new.addcmul_(i, g, value=2.0).sub_(i)
        else:
            c_new.addcmul_(i, torch.tanh(g, out=g))
        if peephole == "diagonal":
            o.addcmul_(peep[2], c_new)
        elif peephole == "full":
            o.addmm_(c_new, peep.T)
        if o_apart:
            torch.sigmoid(o, out=o)
        if use_ln:
            c_ln, xh_c, rs_c = layer_norm(c_new, p["ln_c_weight"], p["ln_c_bias"])
            tc = pointwise_tanh(c_ln, via_sigmoid, out=tcs[t])
            ln_hh.append((xh_hh, rs_hh, xh_c, rs_c))
        else:
            tc = pointwise_tanh(c_new, via_sigmoid, out=tcs[t])
        if mask is None:
            torch.mul(o, tc, out=hs[t + 1])  # h_t = o ⊙ tanh(c_t)
        else:
            torch.where(mask[t], c_new, c, out=cs[t + 1])
            torch.where(mask[t], o * tc, h, out=hs[t + 1])
    if fused:
        g4[:, :, 2].mul_(2.0).sub_(1.0)  # the saved g is tanh(A_g) in every path
    out = hidden[1:] if mask is None else hidden[1:] * mask
    if use_ln:
        ln_hh = tuple(torch.stack(z) for z in zip(*ln_hh, strict=True))
    return out, (gates, cells, hidden, tanh_c, (xhat_ih, rstd_ih), ln_hh)


def lstm_backward(d_out, d_hT, d_cT, x, p, saved, peephole, use_ln, mask, keep_cell_grads):
    """Hand-derived BPTT. Returns (dx, dh0, dc0, param grads dict, dA, dc per step or None)."""
    gates, cells, hidden, tanh_c, (xhat_ih, rstd_ih), ln_hh = saved
    T, B, _ = x.shape
    H = cells.shape[-1]
    g4 = gates.view(T, B, 4, H)
    peep = p.get("weight_peephole")
    w_hh_T = p["weight_hh"].T.contiguous()  # (H, 4H): δh_{t-1} = dA_t U = dA_t (Uᵀ)ᵀ
    # The factors of δ that depend on the forward only are formed for a chunk of steps at a
    # time, in buffers reused across chunks: one pass over all of (T, B, 4H) is memory-bound,
    # and fresh buffers that large cost page faults (~17 ms per 50 MB here).
    chunk = max(1, min(T, _CHUNK_ELEMENTS // (B * H)))
    P = x.new_empty(chunk, B, H)  # ∂h_t/∂c_t = o (1 - tanh²(c_t))
    R = x.new_empty(chunk, B, H)  # ∂h_t/∂A_o = tanh(c_t) o (1 - o)
    Q = x.new_empty(chunk, 3, B, H)  # ∂c_t/∂A_{i,f,g}, gates first so δc_t (B, H) broadcasts
    dA = torch.empty_like(gates)  # (T, B, 4H): ∂E/∂A_t, kept whole for the weight GEMMs
    dA4 = dA.view(T, B, 4, H)
    d_cells = torch.empty_like(tanh_c) if keep_cell_grads else None  # ∂E/∂c_t per step
    d_cln = torch.empty_like(tanh_c) if use_ln else None  # ∂E/∂LN_c(c_t)
    dA_hh = torch.empty_like(gates) if use_ln else dA  # gradient at U h_{t-1}
    d_out_s = d_out.unbind(0)
    if mask is not None:
        # A masked step computes nothing: its new state gets no gradient, and the carried
        # state passes δ through unchanged.
        mask_s, carry_s = mask.unbind(0), (~mask).to(x.dtype).unbind(0)
    dh = d_out_s[T - 1] + d_hT  # δh_t: from the output at t and from step t+1
    if mask is not None:
        dh = torch.addcmul(d_hT, d_out_s[T - 1], mask_s[T - 1])
    dc_carried = d_cT  # δc_t arriving from step t+1
    for end in range(T, 0, -chunk):
        start = max(0, end - chunk)
        n = end - start
        i, f, g, o = g4[start:end].unbind(2)  # each (n, B, H)
        tc, Pc, Rc, Qc = tanh_c[start:end], P[:n], R[:n], Q[:n]
        o_tc = hidden[start + 1 : end + 1] if mask is None and not use_ln else o * tc
        torch.addcmul(o, o_tc, tc, value=-1.0, out=Pc)
        torch.addcmul(o_tc, o_tc, o, value=-1.0, out=Rc)
        s = g4[start:end, :, :2].transpose(1, 2)  # (n, 2, B, H): i, f
        torch.addcmul(s, s, s, value=-1.0, out=Qc[:, :2])  # i(1-i), f(1-f)
        Qc[:, 0] *= g
        Qc[:, 1] *= cells[start:end]  # c_{t-1}
        torch.addcmul(i, i * g, g, value=-1.0, out=Qc[:, 2])  # i (1 - g²)
        if mask is not None:
            m = mask[start:end]  # (n, B, 1)
            Pc.mul_(m)
            Rc.mul_(m)
            Qc.mul_(m.unsqueeze(1))
        # Per-step views made once per chunk (indexing in the loop costs as much as an op).
        P_s, R_s, Q_s, f_s = Pc.unbind(0), Rc.unbind(0), Qc.unbind(0), f.unbind(0)
        dA_o = dA4[start:end, :, 3].unbind(0)
        dA_ifg = dA4[start:end, :, :3].transpose(1, 2).unbind(0)  # (B, 3, H) as (3, B, H)
        for k in range(n - 1, -1, -1):
            t = start + k
            # h_t = o ⊙ tanh(c_t) and o_t = σ(A_o + ...)
            torch.mul(dh, R_s[k], out=dA_o[k])
            # c_t feeds h_t through tanh (and LN_c); a masked step's c_t only carries
            dc_in = dc_carried if mask is None else dc_carried * mask_s[t]
            if use_ln:
                xh_hh, rs_hh, xh_c, rs_c = (z[t] for z in ln_hh)
                dcl = torch.mul(dh, P_s[k], out=d_cln[t])
                dc = dc_in + layer_norm_backward(dcl, xh_c, rs_c, p["ln_c_weight"])
            else:
                dc = torch.addcmul(dc_in, dh, P_s[k])
            # o_t = σ(A_o + p_o ⊙ c_t)  or  σ(A_o + V_o c_t)
            if peephole == "diagonal":
                dc.addcmul_(dA_o[k], peep[2])
            elif peephole == "full":
                dc.addmm_(dA_o[k], peep)
            if keep_cell_grads:
                d_cells[t] = dc
            # c_t = f ⊙ c_{t-1} + i ⊙ g, with i, f, g = σ(A_i), σ(A_f), tanh(A_g)
            torch.mul(Q_s[k], dc, out=dA_ifg[k])
            dc_prev = dc * f_s[k]
            if peephole == "diagonal":  # A_{i,f} + p_{i,f} ⊙ c_{t-1}
                dc_prev.addcmul_(dA4[t, :, 0], peep[0]).addcmul_(dA4[t, :, 1], peep[1])
            if use_ln:  # A_t = ... + LN_hh(U h_{t-1})
                dA_hh[t] = layer_norm_backward(dA[t], xh_hh, rs_hh, p["ln_hh_weight"])
            # A_t = ... + U h_{t-1}  ->  δh_{t-1} = ∂E/∂y_{t-1} + dA_t U
            if mask is None:
                below = d_out_s[t - 1] if t > 0 else None
            else:
                below = dh * carry_s[t]
                dc_prev.addcmul_(dc_carried, carry_s[t])
                if t > 0:
                    below.addcmul_(d_out_s[t - 1], mask_s[t - 1])
            dh = linear(dA_hh[t], w_hh_T) if below is None else addmm(below, dA_hh[t], w_hh_T)
            dc_carried = dc_prev

    # Weight gradients: one GEMM or reduction each over the whole sequence.
    flat = dA.view(T * B, 4 * H)
    grads = {"weight_hh": t_matmul(dA_hh.view(T * B, -1), hidden[:-1].reshape(T * B, H))}
    d_proj = flat
    if use_ln:
        d_proj = layer_norm_backward(dA, xhat_ih, rstd_ih, p["ln_ih_weight"]).view(T * B, -1)
        grads |= {
            "ln_ih_weight": (flat * xhat_ih.view(T * B, -1)).sum(0),
            "ln_ih_bias": flat.sum(0),
            "ln_hh_weight": (flat * ln_hh[0].view(T * B, -1)).sum(0),
            "ln_hh_bias": flat.sum(0),
            "ln_c_weight": (d_cln * ln_hh[2]).sum((0, 1)),
            "ln_c_bias": d_cln.sum((0, 1)),
        }
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
    return dx, dh, dc_carried, grads, dA, d_cells


# Order of the parameter tensors the Function takes after x, h0, c0.
PARAM_ORDER = (
    "weight_ih",
    "weight_hh",
    "bias_ih",
    "bias_hh",
    "weight_peephole",
    *layer_norm_shapes(4, 1, cell=True),
)


class LSTMFunction(torch.autograd.Function):
    """One layer, one direction of the LSTM over a whole sequence.

    ``apply(x, h0, c0, *params, mask, peephole, layer_norm, trace, key, reverse)`` with
    ``params`` in :data:`PARAM_ORDER` (``None`` for those the variant lacks).
    """

    @staticmethod
    def forward(ctx, x, h0, c0, *args):
        *params, mask, peephole, use_ln, trace, key, reverse = args
        p = dict(zip(PARAM_ORDER, params, strict=True))
        out, saved = lstm_forward(x, h0, c0, p, peephole, use_ln, mask)
        gates, cells, hidden, tanh_c, ln_ih, ln_hh = saved
        # Intermediate buffers go through save_for_backward too, so autograd frees them.
        ctx.save_for_backward(
            x, mask, *params, gates, cells, hidden, tanh_c, *ln_ih, *(ln_hh or (None,) * 4)
        )
        ctx.config = (peephole, use_ln, trace, key, reverse)
        return out, hidden[-1], cells[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hT, d_cT):
        x, mask, *rest = ctx.saved_tensors
        params, buffers = rest[: len(PARAM_ORDER)], rest[len(PARAM_ORDER) :]
        peephole, use_ln, trace, key, reverse = ctx.config
        p = dict(zip(PARAM_ORDER, params, strict=True))
        saved = (*buffers[:4], tuple(buffers[4:6]), tuple(buffers[6:]) if use_ln else None)
        dx, dh0, dc0, grads, dA, d_cells = lstm_backward(
            d_out, d_hT, d_cT, x, p, saved, peephole, use_ln, mask, trace is not None
        )
        if trace is not None:
            flip = (lambda z: z.flip(0)) if reverse else (lambda z: z)
            trace.add(key, "pre_activation", flip(dA))
            trace.add(key, "cell", flip(d_cells))
        param_grads = [
            grads.get(name) if params[k] is not None else None for k, name in enumerate(PARAM_ORDER)
        ]
        return (dx, dh0, dc0, *param_grads, None, None, None, None, None, None)


def run_lstm_layer(
    x,
    h0,
    c0,
    params,
    mask,
    reverse,
    peephole=None,
    layer_norm=False,
    trace=None,
    key: TraceKey | None = None,
):
    """One layer and direction; the reverse direction runs on time-flipped tensors."""
    if reverse:
        x = x.flip(0)
        mask = None if mask is None else mask.flip(0)
    out, hT, cT = LSTMFunction.apply(
        x,
        h0,
        c0,
        *(params.get(n) for n in PARAM_ORDER),
        mask,
        peephole,
        layer_norm,
        trace,
        key,
        reverse,
    )
    return (out.flip(0) if reverse else out), (hT, cT)


class _LSTMFamily:
    _gates = 4
    _torch_name = "lstm"
    _has_cell_state = True
    _auto_prefers_torch = True  # oneDNN's fused LSTM beats a Python loop where it applies

    def _set_variant(self, peephole: str | None = None, layer_norm: bool = False) -> None:
        if peephole not in PEEPHOLES:
            raise InputError(f"peephole={peephole!r}: expected one of {PEEPHOLES}")
        if not isinstance(layer_norm, bool):
            raise InputError(f"layer_norm={layer_norm!r}: expected True or False")
        self.peephole, self.layer_norm = peephole, layer_norm

    def _variant_shapes(self) -> dict[str, tuple[int, ...]]:
        H = self.hidden_size
        shapes = layer_norm_shapes(4, H, cell=True) if self.layer_norm else {}
        if self.peephole == "diagonal":
            shapes["weight_peephole"] = (3, H)
        elif self.peephole == "full":
            shapes["weight_peephole"] = (H, H)
        return shapes

    def _torch_unsupported(self) -> str | None:
        if self.peephole is not None:
            return f"torch.nn.LSTM has no peephole connections (peephole={self.peephole!r})"
        if self.layer_norm:
            return "torch.nn.LSTM has no layer normalisation"
        return None

    def _variant_repr(self) -> str:
        return (f", peephole={self.peephole!r}" if self.peephole else "") + (
            ", layer_norm=True" if self.layer_norm else ""
        )

    def _run_layer(self, x, state, params, mask, reverse, trace, key):
        return run_lstm_layer(
            x, state[0], state[1], params, mask, reverse, self.peephole, self.layer_norm, trace, key
        )


class LSTM(_LSTMFamily, RecurrentBase):
    r"""LSTM, a drop-in twin of :class:`torch.nn.LSTM` with peephole and layer-norm variants.

    Equations and BPTT in this module's docstring. Parameters as torch:
    ``weight_ih_l{k}{_reverse}`` (4H, I or D·H), ``weight_hh_l{k}`` (4H, H),
    ``bias_ih_l{k}``/``bias_hh_l{k}`` (4H,), gates i, f, g, o; plus ``weight_peephole_l{k}``
    and ``ln_*_l{k}`` for the variants.

    Args: as :class:`torch.nn.LSTM` (``input_size, hidden_size, num_layers, bias, batch_first,
    dropout, bidirectional``; ``proj_size`` is not supported), plus ``peephole`` (None,
    "diagonal", "full"), ``layer_norm`` and ``backend`` ("auto", "seqlab", "torch").
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        *,
        peephole=None,
        layer_norm=False,
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
            peephole=peephole,
            layer_norm=layer_norm,
            **kwargs,
        )


class LSTMCell(_LSTMFamily, CellBase):
    """One LSTM step, a twin of :class:`torch.nn.LSTMCell` with the same variants as LSTM."""

    _auto_prefers_torch = True

    def __init__(
        self, input_size, hidden_size, bias=True, *, peephole=None, layer_norm=False, **kwargs
    ):
        super().__init__(
            input_size, hidden_size, bias, peephole=peephole, layer_norm=layer_norm, **kwargs
        )
