r"""The gated recurrent unit (GRU): forward and hand-derived BPTT over a whole sequence.

Equations, lecture notation with ``torch.nn`` names (one layer, one direction, gates r, z, n)::

    r_t = σ(A_r),  A_r = W_r x_t + b_ir + U_r h_{t-1} + b_hr     W = weight_ih (3H, I)
    z_t = σ(A_z),  A_z = W_z x_t + b_iz + U_z h_{t-1} + b_hz     U = weight_hh (3H, H)
    n_t = tanh(A_n)                                             b_i = bias_ih, b_h = bias_hh (3H,)
        reset="after"  (torch, cuDNN):  A_n = W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn)
        reset="before" (Cho et al. 2014, the lecture):  A_n = W_n x_t + b_in + U_n q_t + b_hn,
                                        q_t = r_t ⊙ h_{t-1}
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1} = n_t + z_t ⊙ (h_{t-1} - n_t)

``layer_norm=True`` normalises ``W x_t`` (3H, ``ln_ih``) and the recurrent projection (``ln_hh``):
``U h_{t-1}`` as one 3H vector (after), or ``U_{rz} h_{t-1}`` (2H) and ``U_n q_t`` (H) apart
(before); the biases are added after normalising. Shapes: x (T, B, I), h_0 (B, H), output
(T, B, H). Equivalent to the loop in :func:`seqlab.recurrent.reference.gru_layer`.

BPTT. With δ_t = ∂E/∂h_t (from the output at t and from step t+1)::

    ∂E/∂A_n = δ_t ⊙ (1 - z_t) ⊙ (1 - n_t²)
    ∂E/∂A_z = δ_t ⊙ (h_{t-1} - n_t) ⊙ z_t (1 - z_t)
    after:  ∂E/∂A_r = ∂E/∂A_n ⊙ (U_n h_{t-1} + b_hn) ⊙ r_t (1 - r_t)
            G_t = [∂E/∂A_r, ∂E/∂A_z, r_t ⊙ ∂E/∂A_n]    (∂E/∂(U h_{t-1} + b_h))
            δ_{t-1} = ∂E/∂y_{t-1} + δ_t ⊙ z_t + G_t U
    before: ∂E/∂q_t = ∂E/∂A_n U_n,   ∂E/∂A_r = ∂E/∂q_t ⊙ h_{t-1} ⊙ r_t (1 - r_t)
            δ_{t-1} = ∂E/∂y_{t-1} + δ_t ⊙ z_t + ∂E/∂q_t ⊙ r_t + [∂E/∂A_r, ∂E/∂A_z] U_{rz}
    ∂E/∂W = Σ_t ∂E/∂A_tᵀ x_t,  ∂E/∂b_i = Σ_t ∂E/∂A_t,  ∂E/∂U = Σ_t G_tᵀ h_{t-1} (after) or
    [Σ_t ∂E/∂A_{rz,t}ᵀ h_{t-1}; Σ_t ∂E/∂A_{n,t}ᵀ q_t] (before)

Everything that multiplies δ_t above depends on the forward only, so it is computed vectorised
over many steps at once (in cache-sized chunks of steps: on CPU a pass over the whole (T, B, 3H)
costs more than the per-op overhead it saves); the loop carries the δ chain alone (one GEMM per
step after, two before), and each weight gradient is one GEMM after it. The products go through
:mod:`.gemm` (oneDNN for large float32 ones). Where the compiled tier is built, CPU float tensors
run the same loops in C++ (``csrc/gru.cpp``, one fused pass a step, tanh computed directly).

tanh through the sigmoid. On CPU (:mod:`.pointwise`) the loop runs n as s = σ(2 A_n), n = 2s - 1,
and the state as u = (h + 1) / 2: then u_t = s_t + z_t ⊙ (u_{t-1} - s_t) and
U h = (2U) u - U·1, so the factors of 2 and the shift fold into weights and biases once per
call. Before, -q_t = r_t - 2 r_t ⊙ u_{t-1} is one op, paired with -U_n.
"""

from functools import partial

import torch
from torch import Tensor

from ..errors import InputError
from ..functions import reference_backward
from . import gru_rnn_compiled as compiled_gru
from . import reference
from .base import RecurrentBase, layer_norm_shapes, needs_grad
from .compiled import kernels_for
from .gemm import bind_add_linear_, bind_linear, linear, t_matmul
from .pointwise import layer_norm, layer_norm_backward, use_sigmoid_tanh
from .trace import GradientTrace, TraceKey, check_no_graph

RESETS = ("after", "before")
LN_NAMES = ("ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias")
# Order of the parameter tensors the Function takes after x, h0.
PARAM_ORDER = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", *LN_NAMES)
# The backward computes the factors of δ_t for this many (B·H) elements of steps at a time:
# a cache-sized chunk, since one pass over the whole (T, B, 3H) costs several GEMM steps on CPU.
_CHUNK = 1 << 16


def _rows(v: Tensor, rz: float, n: float) -> Tensor:
    """``v`` (3H, ...) with its r, z rows scaled by ``rz`` and its n rows by ``n``."""
    H = v.shape[0] // 3
    return torch.cat([v[: 2 * H] * rz, v[2 * H :] * n])


def gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, ln, mask, reset, needs_backward=True):
    """Runs the sequence; ``ln`` is None or (ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias).
    ``needs_backward=False`` skips what only the backward reads.

    Returns (out (T, B, H), states (T+1, B, H) with states[0] = h_0, and what the backward needs:
    gates (T, B, 3H) = [r, z, U_n h + b_hn] (after) or [r, z, n] (before), candidate (T, B, H)
    = n, and x̂, 1/σ of the input and recurrent layer norms or None).
    """
    T, B, _ = x.shape
    H = h0.shape[-1]
    reset_after = reset == "after"
    via_sigmoid = use_sigmoid_tanh(h0)
    n_scale = 2.0 if via_sigmoid else 1.0  # the n rows carry 2 A_n when n runs through σ
    # The recurrent pre-activations' constant part: b_h (+ LN_hh shift) (- U·1 for the state u:
    # U h = (2U) u - U·1). Layer norm takes U h from h itself: it would magnify the rounding
    # error of (2U) u - U·1, large against U h while h is near zero, by 1/σ of U h.
    recurrent_bias = w_hh.new_zeros(3 * H) if b_hh is None else b_hh
    if ln is not None:
        recurrent_bias = recurrent_bias + ln[3]
    u_scale = 2.0 if via_sigmoid and ln is None else 1.0  # U h = (u_scale U) u + offset
    if u_scale != 1.0:
        state_offset = -w_hh.sum(1)
        recurrent_bias = recurrent_bias + _rows(state_offset, 1.0, 1.0 if reset_after else 0.0)
    # Added to W x_t: b_i and the constant sums that sit outside r_t ⊙ (...), (3H,)
    input_bias = _rows(recurrent_bias, 1.0, 0.0 if reset_after else 1.0)
    input_bias = input_bias + (0.0 if b_ih is None else b_ih)
    x_flat = x.reshape(T * B, -1)  # (T·B, I)
    ln_ih = (None,) * 3  # (input, mean, rstd) of LN_ih
    if ln is None:
        gates = linear(x_flat, w_ih).add_(input_bias).view(T, B, 3 * H)  # (T, B, 3H)
    else:
        projection = linear(x_flat, w_ih).view(T, B, 3 * H)  # (T, B, 3H)
        gates, *stats = layer_norm(projection, ln[0], ln[1] + input_bias)
        ln_ih = (projection, *stats)
    if reset_after:  # the n slot of gates takes U_n h + b_hn; W_n x_t + b_in moves to candidate
        candidate = gates[..., 2 * H :] * n_scale  # (T, B, H)
        gates[..., 2 * H :] = recurrent_bias[2 * H :] * n_scale
    else:
        candidate = gates[..., 2 * H :].mul_(n_scale)  # (T, B, H), a view of gates
    # Recurrent weights with the scales folded in; before, via σ, the loop holds -q (docstring).
    q_sign = -1.0 if via_sigmoid else 1.0
    if reset_after and ln is None:
        w_recurrent = _rows(w_hh, u_scale, u_scale * n_scale)  # (3H, H)
    elif reset_after:
        w_recurrent, ln_hh_gain = w_hh, _rows(ln[2], 1.0, n_scale)  # (3H, H), (3H,)
    else:
        w_recurrent = w_hh[: 2 * H] * u_scale  # (2H, H): U_{rz}
        w_reset_state = w_hh[2 * H :] * (q_sign * (n_scale if ln is None else 1.0))  # (H, H): U_n
        if ln is not None:
            ln_hh_gain, ln_hn_gain = ln[2][: 2 * H], ln[2][2 * H :] * n_scale
    add_recurrent = bind_add_linear_(h0, w_recurrent)  # out += U h_{t-1} (or U_{rz} h_{t-1})
    if not reset_after:
        add_reset_state = bind_add_linear_(h0, w_reset_state)  # out += U_n q_t
        project_reset_state = bind_linear(h0, w_reset_state)  # U_n q_t (layer norm)
    project_recurrent = bind_linear(h0, w_recurrent)  # U h_{t-1} (layer norm)
    activate_candidate = torch.sigmoid_ if via_sigmoid else torch.tanh_
    states = x.new_empty(T + 1, B, H)  # h_t, or u_t in the loop
    states[0] = (h0 + 1.0) * 0.5 if via_sigmoid else h0
    unmasked_state, reset_state = x.new_empty(B, H), x.new_empty(B, H)  # reset_state: q_t or -q_t
    if ln is not None and via_sigmoid:
        minus_ones, prev_state = torch.full_like(h0, -1.0), x.new_empty(B, H)  # h_{t-1} = 2u - 1
    # Per step (input, mean, rstd) of LN_hh; before, of its rz part and then its n part. A
    # list: stacking it would copy (T, B, 3H) into fresh pages, as dear as the norms themselves.
    ln_hh_steps = []
    # Per-step views made once: indexing inside the loop costs as much as a small op.
    state_steps, candidate_steps = states.unbind(0), candidate.unbind(0)
    recurrent_steps = gates[..., : 3 * H if reset_after else 2 * H].unbind(0)  # take U h_{t-1}
    rz_steps, n_slot_steps = gates[..., : 2 * H].unbind(0), gates[..., 2 * H :].unbind(0)
    reset_steps, update_steps = gates[..., :H].unbind(0), gates[..., H : 2 * H].unbind(0)
    for t in range(T):
        state = state_steps[t]
        # A_r, A_z (after: and U_n h_{t-1} + b_hn) = the constant sums + U h_{t-1}
        if ln is None:
            add_recurrent(recurrent_steps[t], state)
        else:
            h_prev = state
            if via_sigmoid:
                h_prev = torch.add(minus_ones, state, alpha=2.0, out=prev_state)  # 2u - 1
            projection = project_recurrent(h_prev)  # (B, 3H) after, (B, 2H) before
            normalised, *stats = layer_norm(projection, ln_hh_gain, None)
            recurrent_steps[t].add_(normalised)
            ln_hh_steps.append((projection, *stats))  # before: the n part follows below
        rz_steps[t].sigmoid_()  # r_t, z_t
        if reset_after:
            # A_n = W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn)
            candidate_steps[t].addcmul_(reset_steps[t], n_slot_steps[t])
        else:
            # A_n = W_n x_t + b_in + U_n (r_t ⊙ h_{t-1}) + b_hn
            r = reset_steps[t]
            if via_sigmoid:
                torch.addcmul(r, r, state, value=-2.0, out=reset_state)  # -q = r - 2 r ⊙ u
            else:
                torch.mul(r, state, out=reset_state)  # q = r ⊙ h
            if ln is None:
                add_reset_state(candidate_steps[t], reset_state)
            else:
                projection = project_reset_state(reset_state)  # (B, H)
                normalised, *stats = layer_norm(projection, ln_hn_gain, None)
                candidate_steps[t].add_(normalised)
                ln_hh_steps[-1] += (projection, *stats)
        activate_candidate(candidate_steps[t])  # n_t (or s_t)
        # h_t = n_t + z_t ⊙ (h_{t-1} - n_t)
        if mask is None:
            torch.lerp(candidate_steps[t], state, update_steps[t], out=state_steps[t + 1])
        else:
            torch.lerp(candidate_steps[t], state, update_steps[t], out=unmasked_state)
            torch.where(mask[t], unmasked_state, state, out=state_steps[t + 1])
    if via_sigmoid:  # back from the loop's scaled quantities: h = 2u - 1, n = 2s - 1, U_n h + b_hn
        states.mul_(2.0).sub_(1.0)
        if needs_backward:
            candidate.mul_(2.0).sub_(1.0)
            if reset_after:
                gates[..., 2 * H :].mul_(0.5)
    out = states[1:] if mask is None else states[1:] * mask
    return out, states, (gates, candidate, *ln_ih), ln_hh_steps


def gru_backward(d_out, d_hT, x, w_ih, w_hh, ln, states, saved, ln_steps, mask, reset, has_bias):
    """Hand-derived BPTT; returns (dx, dh0, dW_ih, dW_hh, db_ih, db_hh, d_ln, dA (T, B, 3H))."""
    gates, candidate, *ln_ih = saved
    T, B, _ = x.shape
    H = w_hh.shape[1]
    reset_after = reset == "after"
    delta = d_out.clone() if mask is None else d_out * mask  # (T, B, H): δ_t, built by the loop
    delta[T - 1] += d_hT
    dh0 = torch.zeros_like(d_hT)
    delta_steps, delta_gate_steps = delta.unbind(0), delta.unsqueeze(2).unbind(0)  # (B,1,H) each
    delta_prev_steps = (dh0, *delta_steps[:-1])  # where δ_{t-1} accumulates
    dA = x.new_empty(T, B, 3, H)  # ∂E/∂A_t, gates r, z, n
    # G_t = ∂E/∂(U h_{t-1} + b_h); before, b_h sits on A itself and G_t = ∂E/∂A_t
    d_recurrent = x.new_empty(T, B, 3, H) if reset_after else dA
    d_recurrent_steps = d_recurrent.unbind(0)
    dA_zn_steps, dA_r_steps = dA[:, :, 1:].unbind(0), dA[:, :, 0].unbind(0)
    dA_gates = dA.view(T, B, 3 * H)  # (T, B, 3H)
    dA_rz_steps = dA_gates[..., : 2 * H].unbind(0)
    dA_n_steps = dA_gates[..., 2 * H :].unbind(0)
    # The δ products as a @ w.T: w_hh.T (H, 3H), U_{rz}ᵀ (H, 2H), U_nᵀ (H, H)
    w_hh_t = w_hh.T.contiguous()
    if not reset_after:  # ∂E/∂q_t = ∂E/∂A_n U_n
        reset_state_grad = bind_linear(dA_gates[0, :, 2 * H :], w_hh_t[:, 2 * H :].contiguous())
    rows = 3 * H if reset_after else 2 * H  # δ_{t-1} += G_t U, or [∂E/∂A_r, ∂E/∂A_z] U_{rz}
    add_recurrent = bind_add_linear_(dA_gates[0, :, :rows], w_hh_t[:, :rows].contiguous())
    # With layer norm: ∂E/∂ of the recurrent projection before LN_hh, per step; after, it
    # replaces G_t in d_recurrent once G_t is used (∂E/∂b_h = Σ G_t is summed on the way).
    # LN_hh's gain and (after) shift gradients are summed step by step.
    if ln is not None:
        d_projection_all = d_recurrent if reset_after else x.new_empty(T, B, 3 * H)
        d_gain_hh, d_shift_hh = torch.zeros_like(ln[2]), torch.zeros_like(ln[2])
    chunk_len = max(1, _CHUNK // (B * H))
    for end in range(T, 0, -chunk_len):
        chunk = slice(max(0, end - chunk_len), end)
        r, z, n, h = (
            gates[chunk, :, :H],
            gates[chunk, :, H : 2 * H],
            candidate[chunk],
            states[chunk],
        )
        # h_t = n_t + z_t ⊙ (h_{t-1} - n_t), n = tanh(A_n), z = σ(A_z): the factors of δ_t
        n_factor = (1.0 - n * n) * (1.0 - z)  # ∂E/∂A_n = δ_t ⊙ n_factor
        z_factor = (h - n) * z * (1.0 - z)  # ∂E/∂A_z = δ_t ⊙ z_factor
        carry = z  # ∂h_t/∂h_{t-1} through z_t ⊙ h_{t-1}
        if mask is not None:  # a masked step copies h_{t-1}: its gates get no gradient
            n_factor, z_factor = n_factor * mask[chunk], z_factor * mask[chunk]
            carry = torch.where(mask[chunk], z, 1.0)
        if reset_after:
            # A_n = W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn), r = σ(A_r)
            r_factor = n_factor * gates[chunk, :, 2 * H :] * r * (1.0 - r)
            dA_factors = torch.stack([r_factor, z_factor, n_factor], 2)  # (t, B, 3, H)
            recurrent_factors = torch.stack([r_factor, z_factor, n_factor * r], 2).unbind(0)
        else:
            # q_t = r_t ⊙ h_{t-1}, r = σ(A_r): ∂E/∂A_r = ∂E/∂q_t ⊙ r_factor
            r_factor_steps = (h * r * (1.0 - r)).unbind(0)
            recurrent_factors = torch.stack([z_factor, n_factor], 2).unbind(0)  # (B, 2, H) each
        carry_steps, reset_steps = carry.unbind(0), r.unbind(0)
        for t in range(chunk.stop - 1, chunk.start - 1, -1):
            i = t - chunk.start  # the step's index in the chunk
            if reset_after:
                # G_t = [∂E/∂A_r, ∂E/∂A_z, r_t ⊙ ∂E/∂A_n]
                torch.mul(recurrent_factors[i], delta_gate_steps[t], out=d_recurrent_steps[t])
                d_projection = d_recurrent_steps[t].view(B, 3 * H)  # (B, 3H)
                if ln is not None:  # LN_hh(U h_{t-1})
                    d_normalised = d_projection
                    d_projection, d_gain, d_shift = layer_norm_backward(
                        d_normalised, *ln_steps[t], ln[2], True
                    )
                    d_gain_hh += d_gain
                    d_shift_hh += d_shift
                    d_projection = d_normalised.copy_(d_projection)
                # δ_{t-1} = ∂E/∂y_{t-1} + δ_t ⊙ z_t + G_t U
                delta_prev = delta_prev_steps[t].addcmul_(delta_steps[t], carry_steps[i])
                add_recurrent(delta_prev, d_projection)
                continue
            # [∂E/∂A_z, ∂E/∂A_n] = δ_t ⊙ [z_factor, n_factor]
            torch.mul(recurrent_factors[i], delta_gate_steps[t], out=dA_zn_steps[t])
            d_projection_n = dA_n_steps[t]
            if ln is not None:  # LN_hh[n](U_n q_t)
                d_projection_n, d_gain, _ = layer_norm_backward(
                    d_projection_n, *ln_steps[t][3:], ln[2][2 * H :], True
                )
                d_gain_hh[2 * H :] += d_gain
                d_projection_all[t, :, 2 * H :] = d_projection_n
            # A_n = ... + U_n q_t:  ∂E/∂q_t = ∂E/∂A_n U_n
            d_reset_state = reset_state_grad(d_projection_n)
            # q_t = r_t ⊙ h_{t-1}, r_t = σ(A_r)
            torch.mul(d_reset_state, r_factor_steps[i], out=dA_r_steps[t])
            d_projection_rz = dA_rz_steps[t]
            if ln is not None:  # LN_hh[rz](U_{rz} h_{t-1})
                d_projection_rz, d_gain, _ = layer_norm_backward(
                    d_projection_rz, *ln_steps[t][:3], ln[2][: 2 * H], True
                )
                d_gain_hh[: 2 * H] += d_gain
                d_projection_all[t, :, : 2 * H] = d_projection_rz
            # δ_{t-1} = ∂E/∂y_{t-1} + δ_t ⊙ z_t + ∂E/∂q_t ⊙ r_t + [∂E/∂A_r, ∂E/∂A_z] U_{rz}
            delta_prev = delta_prev_steps[t].addcmul_(delta_steps[t], carry_steps[i])
            delta_prev.addcmul_(d_reset_state, reset_steps[i])
            add_recurrent(delta_prev, d_projection_rz)
        if reset_after:  # ∂E/∂A = δ ⊙ dA_factors for the chunk
            torch.mul(delta[chunk].unsqueeze(2), dA_factors, out=dA[chunk])
    d_projection = d_recurrent if ln is None else d_projection_all
    d_ln_hh = None if ln is None else (d_gain_hh, d_shift_hh)
    dx, *sums = _sums_over_time(
        dA, d_projection, d_ln_hh, x, w_ih, ln, states, gates, ln_ih, reset, has_bias
    )
    return dx, dh0, *sums


def _sums_over_time(dA, d_projection, d_ln_hh, x, w_ih, ln, states, gates, ln_ih, reset, has_bias):
    """The sums over time and batch from the δ chain's ∂E/∂A (T, B, 3H), the recurrent
    projections' gradient (T, B, 3H: G_t after; before LN_hh) and LN_hh's (gain, shift) gradients
    or None (the shift's read after only): (dx, dW_ih, dW_hh, db_ih, db_hh, d_ln, dA)."""
    (T, B, _), H, reset_after = x.shape, states.shape[-1], reset == "after"
    d_gain_hh, d_shift_hh = d_ln_hh or (None, None)
    TB = T * B  # one GEMM or reduction each over the T·B rows
    dA_flat = dA.view(TB, 3 * H)  # (T·B, 3H)
    d_projection = d_projection.reshape(TB, 3 * H)
    h_prev = states[:-1].reshape(TB, H)  # (T·B, H)
    # A = ... + U h_{t-1} (after) or U_{rz} h_{t-1} and U_n q_t (before)
    if reset_after:
        dW_hh = t_matmul(d_projection, h_prev)
    else:
        q = gates[..., :H].reshape(TB, H) * h_prev  # (T·B, H): q_t = r_t ⊙ h_{t-1}
        dW_hh = torch.cat(
            [t_matmul(d_projection[:, : 2 * H], h_prev), t_matmul(d_projection[:, 2 * H :], q)]
        )
    # A = ... + b_i (+ b_h before), G = ∂E/∂(U h + b_h) (after)
    db_ih = dA_flat.sum(0) if has_bias or ln is not None else None
    if not reset_after:
        db_hh = db_ih
    elif ln is not None:
        db_hh = d_shift_hh
    else:
        db_hh = d_projection.sum(0) if has_bias else None
    d_ln = (None,) * 4
    d_input_projection = dA_flat  # ∂E/∂(W x_t)
    if ln is not None:
        # LN_ih(W x_t): ∂E/∂(W x_t) and the gain's gradient; the shifts' are the biases'
        d_input_projection, d_gain_ih, _ = layer_norm_backward(
            dA.view(T, B, 3 * H), *ln_ih, ln[0], True
        )
        d_input_projection = d_input_projection.view(TB, 3 * H)
        d_ln = (d_gain_ih, db_ih, d_gain_hh, db_hh)
    # W x_t
    dx = linear(d_input_projection, w_ih.T.contiguous()).view(T, B, -1)  # (T, B, I)
    dW_ih = t_matmul(d_input_projection, x.reshape(TB, -1))
    if not has_bias:
        db_ih = db_hh = None
    return dx, dW_ih, dW_hh, db_ih, db_hh, d_ln, dA.view(T, B, 3 * H)


class GRUFunction(torch.autograd.Function):
    """One layer, one direction of the GRU over a whole sequence; with create_graph=True
    its backward is autograd of the reference loop (:mod:`seqlab.functions`)."""

    # fmt: off
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, ln_ih_weight, ln_ih_bias, ln_hh_weight,
                ln_hh_bias, mask, reset: str, trace: GradientTrace | None, key: TraceKey | None,
                reverse: bool, needs_backward: bool):
        # fmt: on
        ln = None if ln_ih_weight is None else (ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias)
        ext = kernels_for(x)  # the compiled loop, returning the same buffers, where it runs
        run = gru_forward if ext is None else partial(compiled_gru.gru_forward, ext)
        out, states, saved, ln_steps = run(
            x, h0, w_ih, w_hh, b_ih, b_hh, ln, mask, reset, needs_backward
        )
        inputs = (x, h0, w_ih, w_hh, b_ih, b_hh, ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias)
        ctx.save_for_backward(*inputs, states, mask, *saved)
        # A list of per-step tensors: it lives as long as the graph, as saved tensors would
        # with retain_graph.
        ctx.ln_steps = ln_steps
        ctx.config = (reset, b_ih is not None, trace, key, reverse)
        return out, states[-1]

    @staticmethod
    def backward(ctx, d_out, d_hT):
        inputs, (states, mask, *saved) = ctx.saved_tensors[:10], ctx.saved_tensors[10:]
        x, h0, w_ih, w_hh, _, _, ln_ih_weight, _, ln_hh_weight, _ = inputs
        reset, has_bias, trace, key, reverse = ctx.config
        if torch.is_grad_enabled():  # create_graph=True: a gradient that differentiates again
            check_no_graph(trace)
            use_ln = ln_ih_weight is not None

            def gru(x, h0, *params):
                p = dict(zip(PARAM_ORDER, params, strict=True))
                return reference.gru_layer(x, h0, p, reset, use_ln, mask)

            return (*reference_backward(gru, inputs, (d_out, d_hT)), *(None,) * 6)
        ln = None if ln_ih_weight is None else (ln_ih_weight, None, ln_hh_weight, None)
        if (ext := kernels_for(x)) is None:
            dx, dh0, dW_ih, dW_hh, db_ih, db_hh, d_ln, dA = gru_backward(
                d_out, d_hT, x, w_ih, w_hh, ln, states, saved, ctx.ln_steps, mask, reset, has_bias
            )
        else:  # the δ chain compiled, then the same sums over time
            dA, d_projection, dh0, d_ln_hh = compiled_gru.gru_delta_chain(
                ext, d_out, d_hT, w_hh, ln, states, saved, ctx.ln_steps, mask, reset
            )
            dx, dW_ih, dW_hh, db_ih, db_hh, d_ln, dA = _sums_over_time(
                dA, d_projection, d_ln_hh, x, w_ih, ln, states, saved[0], saved[2:], reset, has_bias
            )
        if trace is not None:
            trace.add(key, "pre_activation", dA.flip(0) if reverse else dA)
        return dx, dh0, dW_ih, dW_hh, db_ih, db_hh, *d_ln, *(None,) * 6


def run_gru_layer(
    x, h0, params, mask, reverse, reset="after", layer_norm=False, trace=None, key=None
):
    """One layer and direction; the reverse direction runs the kernel on time-flipped tensors."""
    if reverse:
        x = x.flip(0)
        mask = None if mask is None else mask.flip(0)
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") + (LN_NAMES if layer_norm else ())
    tensors = [params[name] for name in names] + [None] * (0 if layer_norm else 4)
    needs_backward = needs_grad(x, h0, *tensors)
    out, hT = GRUFunction.apply(x, h0, *tensors, mask, reset, trace, key, reverse, needs_backward)
    return (out.flip(0) if reverse else out), hT


class _GRUFamily:
    _gates = 3
    _torch_name = "gru"

    def _set_variant(self, reset: str = "after", layer_norm: bool = False) -> None:
        if reset not in RESETS:
            raise InputError(f"reset={reset!r}: expected one of {RESETS}")
        if not isinstance(layer_norm, bool):
            raise InputError(f"layer_norm={layer_norm!r}: expected True or False")
        self.reset, self.layer_norm = reset, layer_norm

    def _variant_shapes(self) -> dict[str, tuple[int, ...]]:
        return layer_norm_shapes(3, self.hidden_size, cell=False) if self.layer_norm else {}

    def _torch_unsupported(self) -> str | None:
        if self.reset == "before":
            return "torch.nn.GRU only has reset='after'"
        if self.layer_norm:
            return "torch.nn.GRU has no layer_norm"
        return None

    def _variant_repr(self) -> str:
        return ("" if self.reset == "after" else f", reset={self.reset!r}") + (
            ", layer_norm=True" if self.layer_norm else ""
        )

    def _run_layer(self, x, state, params, mask, reverse, trace, key):
        out, hT = run_gru_layer(
            x, state[0], params, mask, reverse, self.reset, self.layer_norm, trace, key
        )
        return out, (hT,)

    def _reference_layer(self, x, state, params, mask, reverse):
        out, hT = reference.gru_layer(x, *state, params, self.reset, self.layer_norm, mask, reverse)
        return out, (hT,)


class GRU(_GRUFamily, RecurrentBase):
    r"""Multi-layer GRU, a drop-in twin of :class:`torch.nn.GRU` with the lecture's reset form,
    layer norm and a hand-derived backward.

    For each layer and direction, torch's equations and names (gates stacked r, z, n)::

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))      reset="after" (torch)
        n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)      reset="before" (Cho et
                                                                       al. 2014, the lecture)
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    **Gate convention.** seqlab, torch and Cho et al. keep the old state with z:
    ``h_t = (1 − z_t) ⊙ h̃_t + z_t ⊙ h_{t−1}``. The lecture writes
    ``h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t``: its z is our 1 − z, so lecture weights load by
    negating the z rows (W_iz, W_hz, b_iz, b_hz) — σ(−a) = 1 − σ(a). With ``layer_norm=True``
    the input and recurrent projections are normalised before the biases are added (Ba et al.
    2016). The BPTT equations are in :mod:`seqlab.recurrent.gru`;
    :func:`seqlab.recurrent.reference.gru_layer` is the plain loop.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as
            :class:`torch.nn.GRU`.
        reset: ``"after"`` (torch's and cuDNN's form) or ``"before"`` (the lecture's).
        layer_norm: layer-normalised projections.
        backend: ``"auto"`` (default: seqlab's kernel on the CPU, where it beats ATen's loop;
            cuDNN on a GPU where the configuration is torch's), ``"seqlab"`` or ``"torch"``.
        device, dtype: of the parameters, as in torch.

    Inputs: ``input`` (L, N, H_in), or (N, L, H_in) with ``batch_first``, or (L, H_in) for one
    unbatched sequence, or a PackedSequence; ``h_0`` (D·num_layers, N, H), zeros if omitted;
    ``lengths`` (N,), optional: each padded sequence's length (past it: zeros out, state kept,
    as packing). Outputs: ``output`` (L, N, D·H), the last layer's h_t at every step (batch
    first, or packed, like the input); ``h_n`` (D·num_layers, N, H), the final state of every
    layer and direction. N batch, L length, D = 2 if bidirectional else 1, H_in input_size,
    H hidden_size.

    Attributes (torch's names; ``_reverse`` for the backward direction):
        weight_ih_l{k}: (3H, H_in) for k = 0, else (3H, D·H), rows [W_ir; W_iz; W_in].
        weight_hh_l{k}: (3H, H). bias_ih_l{k}, bias_hh_l{k}: (3H,).
        ln_ih_weight/bias_l{k}, ln_hh_weight/bias_l{k}: (3H,) with ``layer_norm``.
        Initialised from U(-1/√H, 1/√H) as torch.

    Example::

        >>> gru = seqlab.GRU(32, 128, batch_first=True, reset="before")
        >>> output, h_n = gru(torch.randn(4, 50, 32))
        >>> output.shape, h_n.shape
        (torch.Size([4, 50, 128]), torch.Size([1, 4, 128]))
    """

    # One line per group, as torch.nn writes it: the signature reads at a glance.
    # fmt: off
    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, reset="after", layer_norm=False, **kwargs):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, reset=reset, layer_norm=layer_norm, **kwargs)
    # fmt: on
