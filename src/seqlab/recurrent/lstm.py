r"""The LSTM, with the peephole, layer-norm and projection variants: forward and hand-derived
BPTT over a whole sequence.

The forward equations, in the lecture's notation beside ``torch.nn``'s names, the shapes and
the weight layout are in :class:`LSTM`'s docstring below (``help(seqlab.LSTM)``). In the
kernels: gates stacked i, f, g, o in ``weight_ih`` (4H, I), ``weight_hh`` (4H, H_out) and the
biases (4H,); ``A_t = W x_t + b + U h_{t-1}``; ``weight_peephole`` is [p_i; p_f; p_o] (3, H)
("diagonal") or V_o (H, H) ("full"); ``layer_norm`` adds ``ln_ih_*``, ``ln_hh_*`` (4H,) and
``ln_c_*`` (H,); x (T, B, I), c_0 (B, H), h_0 (B, H_out), output (T, B, H_out). The plain
loop is :func:`seqlab.recurrent.reference.lstm_layer`.

BPTT, with δh_t = ∂E/∂h_t and δc_t = ∂E/∂c_t (each from step t and from step t+1); with a
projection, δh_t W_hr stands for δh_t below and ∂E/∂W_hr = Σ_t δh_tᵀ (o_t ⊙ tanh(c_t))::

    ∂E/∂A_o = δh_t ⊙ tanh(c_t) ⊙ o(1-o)
    δc_t   += δh_t ⊙ o ⊙ (1 - tanh²(c_t)) + (∂E/∂A_o) ⊙ p_o   [or (∂E/∂A_o) V_o]
    ∂E/∂A_i = δc_t ⊙ g ⊙ i(1-i),   ∂E/∂A_f = δc_t ⊙ c_{t-1} ⊙ f(1-f),   ∂E/∂A_g = δc_t ⊙ i ⊙ (1-g²)
    δc_{t-1} = δc_t ⊙ f + (∂E/∂A_i) ⊙ p_i + (∂E/∂A_f) ⊙ p_f
    δh_{t-1} = ∂E/∂y_{t-1} + (∂E/∂A) U

The products that do not involve δ (g·i(1-i), c_{t-1}·f(1-f), ...) are formed for all steps at
once before the loop, so each step costs one GEMM and about five pointwise ops.
The gates' sigmoids and tanh run as one sigmoid over i, f, g and o (i, f, g with a peephole,
whose o waits for c_t) with the g block of the pre-activation doubled: tanh(a) = 2σ(2a) - 1
(:mod:`seqlab.recurrent.pointwise`), and i ⊙ tanh(A_g) = 2 i ⊙ σ(2 A_g) - i.

These two functions are the specification and the fallback: on CPU float32 and float64,
:class:`LSTMFunction` runs the same loops compiled (``csrc/lstm.cpp``, ``lstm_backward.cpp``,
through :mod:`seqlab.recurrent.lstm_compiled`) wherever :func:`seqlab.recurrent.compiled.kernels`
gives them.
"""

from functools import partial

import torch

from ..errors import InputError
from ..functions import reference_backward
from . import lstm_compiled, reference
from .base import RecurrentBase, layer_norm_shapes, needs_grad
from .compiled import kernels_for
from .gemm import bind_add_linear_, bind_addmm, bind_linear, linear
from .lstm_compiled import per_step, stacked_steps, weight_grads
from .pointwise import layer_norm, layer_norm_backward, use_sigmoid_tanh
from .pointwise import tanh as pointwise_tanh
from .trace import check_no_graph

PEEPHOLES = (None, "diagonal", "full")
# Elements of (B, H) per buffer that the backward forms its δ-independent factors for at a
# time: cache-sized (see lstm_backward).
_CHUNK_ELEMENTS = 1 << 16


def lstm_forward(x, h0, c0, p, peephole, use_ln, mask, needs_backward=True):
    """Returns (out, saved) where saved holds what the backward needs (see lstm_backward);
    ``needs_backward=False`` skips what only the backward reads.

    ``p``: dict of the layer's tensors (names without the ``_l{k}`` suffix).
    """
    T, B, _ = x.shape
    w_ih, w_hh, w_hr = p["weight_ih"], p["weight_hh"], p.get("weight_hr")
    H, H_out = w_hh.shape[0] // 4, h0.shape[-1]  # H_out: h_t's features, proj_size if any
    # W x_t for all steps in one GEMM; this buffer then receives A_t and the activations.
    gates = linear(x.reshape(T * B, -1), w_ih).view(T, B, 4 * H)  # (T, B, 4H)
    ln_ih = None  # (input, mean, rstd) of LN_ih for the backward
    if use_ln:
        projection = gates
        gates, *ln_ih = layer_norm(projection, p["ln_ih_weight"], p["ln_ih_bias"])
        ln_ih = (projection, *ln_ih)
    if p["bias_ih"] is not None:
        gates += p["bias_ih"] + p["bias_hh"]
    # One sigmoid over i, f, g (and o): the g block carries 2 A_g, since tanh(a) = 2σ(2a) - 1.
    # The doubling folds into the g rows of U, or of LN_hh's gain and shift.
    g4 = gates.view(T, B, 4, H)
    g4[:, :, 2] *= 2.0
    g_doubled = torch.ones(4, 1, dtype=x.dtype, device=x.device)
    g_doubled[2] = 2.0
    if use_ln:
        project_recurrent = bind_linear(h0, w_hh)  # U h_{t-1}
        ln_hh_gain = (p["ln_hh_weight"].view(4, H) * g_doubled).view(4 * H)
        ln_hh_shift = (p["ln_hh_bias"].view(4, H) * g_doubled).view(4 * H)
    else:
        U = (w_hh.view(4, H, H_out) * g_doubled.unsqueeze(2)).view(4 * H, H_out)
        add_recurrent = bind_add_linear_(h0, U)  # out += U h_{t-1}
    # tanh(c_t) through the sigmoid on large tensors (pointwise.py); with layer norm the
    # doubling folds into LN_c's gain and shift.
    via_sigmoid = use_sigmoid_tanh(h0)
    if use_ln:
        c_scale = 2.0 if via_sigmoid else 1.0
        ln_c_gain, ln_c_shift = p["ln_c_weight"] * c_scale, p["ln_c_bias"] * c_scale
    cells = x.new_empty(T + 1, B, H)  # carried c_t, cells[0] = c_0
    hidden = x.new_empty(T + 1, B, H_out)  # carried h_t, hidden[0] = h_0
    tanh_c = x.new_empty(T, B, H)  # tanh(c_t) (of LN_c(c_t)): ATen's tanh is dear to redo
    # o ⊙ tanh(c_t) before the projection W_hr, kept for ∂E/∂W_hr
    unprojected = None if w_hr is None else x.new_empty(T, B, H)
    w_hr_t = None if w_hr is None else w_hr.T
    cells[0], hidden[0] = c0, h0
    ln_steps = [] if use_ln else None  # per step (input, mean, rstd) of LN_hh, then of LN_c
    peep = p.get("weight_peephole")
    if peephole == "full":
        add_peephole = bind_add_linear_(h0, peep)  # out += V_o c_t
    # Per-step views made once: indexing inside the loop costs as much as a small op.
    i_s, f_s, g_s, o_s = (g4[:, :, k].unbind(0) for k in range(4))
    # (B, 2, H) blocks i, f, for the diagonal peephole
    if_s = g4[:, :, :2].unbind(0) if peephole == "diagonal" else None
    a_s, hs, cs, tcs = gates.unbind(0), hidden.unbind(0), cells.unbind(0), tanh_c.unbind(0)
    # o needs c_t first with a peephole; else one sigmoid takes all four gates
    sig_s = gates[:, :, : 3 * H].unbind(0) if peephole is not None else a_s
    for t in range(T):
        h, c, a = hs[t], cs[t], a_s[t]
        if use_ln:
            recurrent = project_recurrent(h)  # (B, 4H)
            uh, mean_hh, rstd_hh = layer_norm(recurrent, ln_hh_gain, ln_hh_shift)
            a.add_(uh)
        else:
            add_recurrent(a, h)  # A_t = W x_t + b + U h_{t-1}
        if peephole == "diagonal":
            if_s[t].addcmul_(peep[:2], c.unsqueeze(1))  # A_{i,f} + p_{i,f} ⊙ c_{t-1}
        sig_s[t].sigmoid_()
        i, f, g, o = i_s[t], f_s[t], g_s[t], o_s[t]
        c_new = cs[t + 1] if mask is None else torch.empty_like(c)
        # c_t = f ⊙ c_{t-1} + i ⊙ tanh(A_g), where g holds σ(2 A_g) for now:
        # i ⊙ tanh(A_g) = 2 i ⊙ g - i
        torch.mul(f, c, out=c_new).addcmul_(i, g, value=2.0).sub_(i)
        if peephole == "diagonal":
            o.addcmul_(peep[2], c_new).sigmoid_()  # o_t = σ(A_o + p_o ⊙ c_t)
        elif peephole == "full":
            add_peephole(o, c_new).sigmoid_()  # o_t = σ(A_o + V_o c_t)
        tc = tcs[t]
        if use_ln:
            c_ln, mean_c, rstd_c = layer_norm(c_new, ln_c_gain, ln_c_shift)  # (× 2: c_scale)
            ln_steps.append((recurrent, mean_hh, rstd_hh, c_new, mean_c, rstd_c))
            pointwise_tanh(c_ln, via_sigmoid, out=tc, doubled=True)
        else:
            pointwise_tanh(c_new, via_sigmoid, out=tc)
        if w_hr is None and mask is None:
            torch.mul(o, tc, out=hs[t + 1])  # h_t = o ⊙ tanh(c_t)
        elif w_hr is None:
            torch.where(mask[t], c_new, c, out=cs[t + 1])
            torch.where(mask[t], o * tc, h, out=hs[t + 1])
        else:  # h_t = W_hr (o ⊙ tanh(c_t))
            h_new = torch.mul(o, tc, out=unprojected[t]) @ w_hr_t
            if mask is not None:
                torch.where(mask[t], c_new, c, out=cs[t + 1])
                h_new = torch.where(mask[t], h_new, h)
            hs[t + 1].copy_(h_new)
    if needs_backward:
        g4[:, :, 2].mul_(2.0).sub_(1.0)  # the saved g is tanh(A_g) = 2σ(2 A_g) - 1
    out = hidden[1:] if mask is None else hidden[1:] * mask
    # ln_steps stays a list: stacking it would copy ~(T, B, 5H) into fresh pages, which on
    # CPU costs as much as the layer norms themselves.
    return out, (gates, cells, hidden, tanh_c, unprojected, ln_ih, ln_steps)


def lstm_backward(d_out, d_hT, d_cT, x, p, saved, peephole, use_ln, mask, keep_cell_grads):
    """Hand-derived BPTT. Returns (dx, dh0, dc0, param grads dict, dA, dc per step or None)."""
    gates, cells, hidden, tanh_c, unprojected, ln_ih, ln_steps = saved
    T, B, _ = x.shape
    H = cells.shape[-1]
    g4 = gates.view(T, B, 4, H)
    peep, w_hr = p.get("weight_peephole"), p.get("weight_hr")
    w_hh_T = p["weight_hh"].T.contiguous()  # (H_out, 4H): δh_{t-1} = dA_t U = dA_t (Uᵀ)ᵀ
    d_hidden = None if w_hr is None else torch.empty_like(hidden[1:])  # δh_t, for ∂E/∂W_hr
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
    d_out_prev = (torch.zeros_like(d_hT), *d_out_s[:-1])  # ∂E/∂y_{t-1}, zero before t = 0
    dA_hh_s = dA_hh.unbind(0)
    add_recurrent = bind_addmm(dA_hh_s[0], w_hh_T)  # f(below, dA_t) = below + dA_t U
    if use_ln:  # the gains' gradients, summed step by step
        d_ln_hh_gain, d_ln_c_gain = torch.zeros_like(gates[0, 0]), torch.zeros_like(cells[0, 0])
    if peephole == "diagonal":
        dA_if_s = dA4[:, :, :2].unbind(0)  # (B, 2, H) blocks of ∂E/∂A_{i,f}
    if mask is not None:
        # A masked step computes nothing: its new state gets no gradient, and the carried
        # state passes δ through unchanged.
        mask_s, carry_s = mask.unbind(0), (~mask).to(x.dtype).unbind(0)
        mask_prev = (mask_s[0], *mask_s[:-1])
    # δh_t: from the output at t and from step t+1
    if mask is None:
        dh = d_out_s[T - 1] + d_hT
    else:
        dh = torch.addcmul(d_hT, d_out_s[T - 1], mask_s[T - 1])
    dc_carried = d_cT  # δc_t arriving from step t+1
    for end in range(T, 0, -chunk):
        start = max(0, end - chunk)
        n = end - start
        i, f, g, o = g4[start:end].unbind(2)  # each (n, B, H)
        tc, Pc, Rc, Qc = tanh_c[start:end], P[:n], R[:n], Q[:n]
        if w_hr is not None:
            o_tc = unprojected[start:end]
        else:
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
            d_unprojected = dh  # ∂E/∂(o ⊙ tanh(c_t))
            if w_hr is not None:  # h_t = W_hr (o ⊙ tanh(c_t))
                d_hidden[t] = dh
                d_unprojected = dh @ w_hr
            # h_t = o ⊙ tanh(c_t) and o_t = σ(A_o + ...)
            torch.mul(d_unprojected, R_s[k], out=dA_o[k])
            # c_t feeds h_t through tanh (and LN_c); a masked step's c_t only carries
            dc_in = dc_carried if mask is None else dc_carried * mask_s[t]
            if use_ln:  # ... and tanh(LN_c(c_t))
                dcl = torch.mul(d_unprojected, P_s[k], out=d_cln[t])
                dc, d_gain, _ = layer_norm_backward(dcl, *ln_steps[t][3:], p["ln_c_weight"], True)
                dc += dc_in
                d_ln_c_gain += d_gain
            else:
                dc = torch.addcmul(dc_in, d_unprojected, P_s[k])
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
                dc_prev += (dA_if_s[t] * peep[:2]).sum(1)
            if use_ln:  # A_t = ... + LN_hh(U h_{t-1})
                d_recurrent, d_gain, _ = layer_norm_backward(
                    dA[t], *ln_steps[t][:3], p["ln_hh_weight"], True
                )
                dA_hh_s[t].copy_(d_recurrent)
                d_ln_hh_gain += d_gain
            # A_t = ... + U h_{t-1}  ->  δh_{t-1} = ∂E/∂y_{t-1} + dA_t U
            if mask is None:
                below = d_out_prev[t]
            else:
                below = torch.addcmul(d_out_prev[t] * mask_prev[t], dh, carry_s[t])
                dc_prev.addcmul_(dc_carried, carry_s[t])
            dh = add_recurrent(below, dA_hh_s[t])
            dc_carried = dc_prev

    # Weight gradients: one GEMM or reduction each over the whole sequence.
    gains = (d_ln_hh_gain, d_ln_c_gain) if use_ln else None
    dx, grads = weight_grads(x, p, saved, dA, dA_hh, d_hidden, d_cln, gains, peephole, mask)
    return dx, dh, dc_carried, grads, dA, d_cells


# Order of the parameter tensors the Function takes after x, h0, c0.
PARAM_ORDER = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr", "weight_peephole")
PARAM_ORDER += tuple(layer_norm_shapes(4, 1, cell=True))


class LSTMFunction(torch.autograd.Function):
    """One layer, one direction of the LSTM over a whole sequence.

    ``apply(x, h0, c0, *params, mask, peephole, layer_norm, trace, key, reverse,
    needs_backward)`` with ``params`` in :data:`PARAM_ORDER` (``None`` for those the variant
    lacks); ``needs_backward=False`` (inference) lets the forward skip what only the backward
    reads. With ``create_graph=True`` the backward is autograd of the reference loop
    (:mod:`seqlab.functions`), so the gradient differentiates again.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, *args):
        *params, mask, peephole, use_ln, trace, key, reverse, needs_backward = args
        p = dict(zip(PARAM_ORDER, params, strict=True))
        ext = kernels_for(x)  # the compiled tier where it takes these tensors
        if ext is not None:
            out, saved = lstm_compiled.forward(ext, x, h0, c0, p, peephole, use_ln, mask)
        else:
            out, saved = lstm_forward(x, h0, c0, p, peephole, use_ln, mask, needs_backward)
        gates, cells, hidden, tanh_c, unprojected, ln_ih, ln_steps = saved
        # Intermediate buffers go through save_for_backward too, so autograd frees them.
        buffers = (gates, cells, hidden, tanh_c, unprojected, *(ln_ih or (None,) * 3))
        ctx.save_for_backward(x, h0, c0, mask, *params, *buffers)
        # Per-step tensors (a list of tuples from the Python tier, stacked over time from the
        # compiled one): they live as long as the graph, as saved tensors would with
        # retain_graph.
        ctx.ln_steps, ctx.ln_stacked = ln_steps, ext is not None
        ctx.config = (peephole, use_ln, trace, key, reverse)
        return out, hidden[-1], cells[-1]

    @staticmethod
    def backward(ctx, d_out, d_hT, d_cT):
        x, h0, c0, mask, *rest = ctx.saved_tensors
        params, buffers = rest[: len(PARAM_ORDER)], rest[len(PARAM_ORDER) :]
        peephole, use_ln, trace, key, reverse = ctx.config
        if torch.is_grad_enabled():  # create_graph=True: a gradient that differentiates again
            check_no_graph(trace)

            def lstm(x, h0, c0, *params):
                p = dict(zip(PARAM_ORDER, params, strict=True))
                out, (hT, cT) = reference.lstm_layer(x, h0, c0, p, peephole, use_ln, mask)
                return out, hT, cT

            grads = reference_backward(lstm, (x, h0, c0, *params), (d_out, d_hT, d_cT))
            return (*grads, *(None,) * 7)
        p = dict(zip(PARAM_ORDER, params, strict=True))
        ln_ih = tuple(buffers[5:8]) if use_ln else None
        ext = kernels_for(x)
        steps = ctx.ln_steps
        if use_ln and ctx.ln_stacked != (ext is not None):  # the other tier ran the forward
            steps = stacked_steps(steps) if ext is not None else per_step(steps)
        saved = (*buffers[:5], ln_ih, steps)
        run = lstm_backward if ext is None else partial(lstm_compiled.backward, ext)
        dx, dh0, dc0, grads, dA, d_cells = run(
            d_out, d_hT, d_cT, x, p, saved, peephole, use_ln, mask, trace is not None
        )
        if trace is not None:
            flip = (lambda z: z.flip(0)) if reverse else (lambda z: z)
            trace.add(key, "pre_activation", flip(dA))
            trace.add(key, "cell", flip(d_cells))
        param_grads = [
            grads.get(name) if params[k] is not None else None for k, name in enumerate(PARAM_ORDER)
        ]
        return (dx, dh0, dc0, *param_grads, *(None,) * 7)


def run_lstm_layer(
    x, h0, c0, params, mask, reverse, peephole=None, layer_norm=False, trace=None, key=None
):
    """One layer and direction; the reverse direction runs on time-flipped tensors."""
    if reverse:
        x = x.flip(0)
        mask = None if mask is None else mask.flip(0)
    tensors = [params.get(n) for n in PARAM_ORDER]
    options = (peephole, layer_norm, trace, key, reverse, needs_grad(x, h0, c0, *tensors))
    out, hT, cT = LSTMFunction.apply(x, h0, c0, *tensors, mask, *options)
    return (out.flip(0) if reverse else out), (hT, cT)


class _LSTMFamily:
    _gates = 4
    _torch_name = "lstm"
    _has_cell_state = True

    @property
    def _auto_prefers_torch(self) -> bool:
        # oneDNN's fused LSTM, where it applies (it has no projection): it beats the Python
        # loops, and the compiled ones, with their weights packed as oneDNN's, only draw level
        # with it (benchmarks/results/recurrent.md, alone, 2 cores; time / oneDNN's):
        # training 0.94-1.12 at B = 64 with H = 512, 1024 and 3 layers (0.93-1.08 in the run
        # before), 1.27 at (B, H) = (32, 128), 1.41 at (1, 64); inference 1.05-1.16 at
        # B = 64, 1.3-1.5 below.
        return not self.proj_size

    def _set_variant(
        self, peephole: str | None = None, layer_norm: bool = False, proj_size: int = 0
    ) -> None:
        if peephole not in PEEPHOLES:
            raise InputError(f"peephole={peephole!r}: expected one of {PEEPHOLES}")
        if not isinstance(layer_norm, bool):
            raise InputError(f"layer_norm={layer_norm!r}: expected True or False")
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
            raise InputError(f"proj_size={proj_size!r}: expected an integer >= 0 (0: none)")
        if proj_size >= self.hidden_size:
            raise InputError(
                f"proj_size={proj_size} must be smaller than hidden_size={self.hidden_size} "
                f"(as torch.nn.LSTM asks); use proj_size=0 for no projection"
            )
        self.peephole, self.layer_norm, self.proj_size = peephole, layer_norm, proj_size

    @property
    def _state_sizes(self) -> tuple[int, ...]:
        return (self.proj_size or self.hidden_size, self.hidden_size)  # h_t, c_t

    def _variant_shapes(self) -> dict[str, tuple[int, ...]]:
        H = self.hidden_size
        # weight_hr first: torch's order is w_ih, w_hh, b_ih, b_hh, w_hr
        shapes = {"weight_hr": (self.proj_size, H)} if self.proj_size else {}
        shapes |= layer_norm_shapes(4, H, cell=True) if self.layer_norm else {}
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
        return (
            (f", proj_size={self.proj_size}" if self.proj_size else "")
            + (f", peephole={self.peephole!r}" if self.peephole else "")
            + (", layer_norm=True" if self.layer_norm else "")
        )

    def _run_layer(self, x, state, params, mask, reverse, trace, key):
        return run_lstm_layer(
            x, state[0], state[1], params, mask, reverse, self.peephole, self.layer_norm, trace, key
        )

    def _reference_layer(self, x, state, params, mask, reverse):
        return reference.lstm_layer(
            x, *state, params, self.peephole, self.layer_norm, mask, reverse
        )


class LSTM(_LSTMFamily, RecurrentBase):
    r"""Multi-layer LSTM, a drop-in twin of :class:`torch.nn.LSTM` with peephole and layer-norm
    variants and a hand-derived backward.

    For each layer and direction, in the lecture's notation with torch's names (gates stacked
    i, f, g, o as in torch)::

        A_t = W x_t + U h_{t-1} + b          W = weight_ih_l{k}, U = weight_hh_l{k}
        i_t = σ(A_i [+ p_i ⊙ c_{t-1}])       b = bias_ih_l{k} + bias_hh_l{k}
        f_t = σ(A_f [+ p_f ⊙ c_{t-1}])       [ ] only with peephole="diagonal"
        g_t = tanh(A_g)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        o_t = σ(A_o [+ p_o ⊙ c_t | + V_o c_t])   V_o: peephole="full", the lecture's output gate
        h_t = o_t ⊙ tanh(c_t)                (proj_size=P: h_t = W_hr (o_t ⊙ tanh(c_t)))

    With ``layer_norm=True`` (Ba et al. 2016): A_t = LN(W x_t) + LN(U h_{t-1}) + b and
    h_t = o_t ⊙ tanh(LN(c_t)). Layer k > 0 reads the previous layer's output; between layers,
    dropout with probability ``dropout`` in training. The BPTT equations are in
    :mod:`seqlab.recurrent.lstm`; :func:`seqlab.recurrent.reference.lstm_layer` is the plain
    loop.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            proj_size: as :class:`torch.nn.LSTM`.
        peephole: ``None`` (torch's LSTM), ``"diagonal"`` (Gers & Schmidhuber: p_i, p_f, p_o)
            or ``"full"`` (the lecture's V_o c_t in the output gate).
        layer_norm: layer-normalised gates and cell.
        backend: ``"auto"`` (default: oneDNN's / cuDNN's fused kernel where the configuration
            is torch's and nothing needs the hand-derived path), ``"seqlab"`` (always the
            hand-derived forward and backward) or ``"torch"`` (always torch's kernel).
        device, dtype: of the parameters, as in torch.

    Inputs: ``input`` (L, N, H_in), or (N, L, H_in) with ``batch_first``, or (L, H_in) for one
    unbatched sequence, or a PackedSequence; ``(h_0, c_0)`` (D·num_layers, N, H_out) and
    (D·num_layers, N, H), zeros if omitted; ``lengths`` (N,), optional: each padded sequence's
    length (past it: zeros out, state kept, as packing). Outputs: ``output`` (L, N, D·H_out),
    the last layer's h_t at every step (batch first, or packed, like the input); ``(h_n,
    c_n)`` shaped as ``(h_0, c_0)``. N batch, L length, D = 2 if bidirectional else 1, H_in
    input_size, H hidden_size, H_out = proj_size if > 0, else H.

    Attributes (torch's names; ``_reverse`` for the backward direction):
        weight_ih_l{k}: (4H, H_in) for k = 0, else (4H, D·H_out), rows [W_i; W_f; W_g; W_o].
        weight_hh_l{k}: (4H, H_out). bias_ih_l{k}, bias_hh_l{k}: (4H,).
        weight_hr_l{k}: (P, H) with ``proj_size=P``.
        weight_peephole_l{k}: (3, H) = [p_i; p_f; p_o] ("diagonal") or (H, H) = V_o ("full").
        ln_ih_weight/bias_l{k}, ln_hh_weight/bias_l{k}: (4H,); ln_c_weight/bias_l{k}: (H,).
        Initialised from U(-1/√H, 1/√H) as torch; layer-norm gains at 1 and shifts at 0.

    Example::

        >>> lstm = seqlab.LSTM(16, 64, num_layers=2, batch_first=True, peephole="full")
        >>> x, lengths = torch.randn(8, 100, 16), torch.randint(1, 101, (8,))
        >>> output, (h_n, c_n) = lstm(x, lengths=lengths)
        >>> output.shape, h_n.shape
        (torch.Size([8, 100, 64]), torch.Size([2, 8, 64]))
        >>> seqlab.LSTM(16, 64).load_state_dict(torch.nn.LSTM(16, 64).state_dict())
        <All keys matched successfully>
    """

    # One line per group, as torch.nn writes it: the signature reads at a glance.
    # fmt: off
    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, *, peephole=None,
                 layer_norm=False, **kwargs):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size=proj_size, peephole=peephole,
                         layer_norm=layer_norm, **kwargs)
    # fmt: on
