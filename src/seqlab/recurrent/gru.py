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
step after, two before), and each weight gradient is one GEMM after it.

tanh through the sigmoid. On CPU (:mod:`.pointwise`) the loop runs n as s = σ(2 A_n), n = 2s - 1,
and the state as u = (h + 1) / 2: then u_t = s_t + z_t ⊙ (u_{t-1} - s_t) and
U h = (2U) u - U·1, so the factors of 2 and the shift fold into weights and biases once per
call. Before, -q_t = r_t - 2 r_t ⊙ u_{t-1} is one op, paired with -U_n.
"""

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..errors import InputError
from .base import CellBase, RecurrentBase, layer_norm_shapes
from .pointwise import layer_norm, layer_norm_backward, use_sigmoid_tanh
from .trace import GradientTrace, TraceKey

RESETS = ("after", "before")
LN_NAMES = ("ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias")
# The backward computes the factors of δ_t for this many (B·H) elements of steps at a time:
# a cache-sized chunk, since one pass over the whole (T, B, 3H) costs several GEMM steps on CPU.
_CHUNK = 1 << 16


def _rows(v: Tensor, rz: float, n: float) -> Tensor:
    """``v`` (3H, ...) with its r, z rows scaled by ``rz`` and its n rows by ``n``."""
    H = v.shape[0] // 3
    return torch.cat([v[: 2 * H] * rz, v[2 * H :] * n])


def gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, ln, mask, reset):
    """Runs the sequence; ``ln`` is None or (ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias).

    Returns (out (T, B, H), states (T+1, B, H) with states[0] = h_0, and what the backward needs:
    gates (T, B, 3H) = [r, z, U_n h + b_hn] (after) or [r, z, n] (before), cand (T, B, H) = n,
    and x̂, 1/σ of the input and recurrent layer norms or None).
    """
    T, B, _ = x.shape
    H = h0.shape[-1]
    after = reset == "after"
    via = use_sigmoid_tanh(h0)
    k = 2.0 if via else 1.0  # n-rows carry 2 A_n when n runs through σ (module docstring)
    # The recurrent pre-activations' constant part: b_h (+ LN shift) (- U·1 for the state u).
    rec = w_hh.new_zeros(3 * H) if b_hh is None else b_hh
    if ln is not None:
        rec = rec + ln[3]
    off = -w_hh.sum(1) if via else None  # U h = (2U) u - U·1
    if via and ln is None:
        rec = rec + _rows(off, 1.0, 1.0 if after else 0.0)
    # W x_t + b_i + the constant sums for every step: one GEMM, (T, B, 3H).
    const = _rows(rec, 1.0, 0.0 if after else 1.0) + (0.0 if b_ih is None else b_ih)
    X = x.reshape(T * B, -1)
    xhat_ih = rstd_ih = None
    if ln is None:
        gates = torch.addmm(const, X, w_ih.T).view(T, B, 3 * H)
    else:
        gates, xhat_ih, rstd_ih = layer_norm((X @ w_ih.T).view(T, B, 3 * H), ln[0], ln[1] + const)
    if after:  # the n-slot of gates takes U_n h + b_hn; the input part moves to cand
        cand = gates[..., 2 * H :] * k
        gates[..., 2 * H :] = rec[2 * H :] * k
    else:
        cand = gates[..., 2 * H :].mul_(k)
    # Recurrent weights with the folded scales; before, via σ, the loop holds -q (docstring).
    sign = -1.0 if via else 1.0
    if after and ln is None:
        Wt = _rows(w_hh, k, k * k).T
    elif after:
        Wt, gamma = (w_hh * k).T, _rows(ln[2], 1.0, k)
    else:
        Wt, Wn_t = (w_hh[: 2 * H] * k).T, (w_hh[2 * H :] * (sign * (k if ln is None else 1.0))).T
        if ln is not None:
            gamma, gamma_n = ln[2][: 2 * H], ln[2][2 * H :] * k
            off = None if off is None else off[: 2 * H]
    act = torch.sigmoid_ if via else torch.tanh_
    states = x.new_empty(T + 1, B, H)
    states[0] = (h0 + 1.0) * 0.5 if via else h0
    new, q = x.new_empty(B, H), x.new_empty(B, H)
    xhats, rstds = [], []
    U_, S_, G_ = states.unbind(0), cand.unbind(0), gates[..., : 3 * H if after else 2 * H].unbind(0)
    Grz_, Gn_ = gates[..., : 2 * H].unbind(0), gates[..., 2 * H :].unbind(0)
    r_, z_ = gates[..., :H].unbind(0), gates[..., H : 2 * H].unbind(0)
    for t in range(T):
        u = U_[t]
        # A_r, A_z (after: and U_n h + b_hn) = the constant sums + the recurrent projection
        if ln is None:
            G_[t].addmm_(u, Wt)
        else:
            y = torch.mm(u, Wt) if off is None else torch.addmm(off, u, Wt)
            g, xhat, rstd = layer_norm(y, gamma, G_[t])
            G_[t].copy_(g)
            xhats.append(xhat)
            rstds.append(rstd)
        Grz_[t].sigmoid_()  # r_t, z_t
        if after:
            # A_n = W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn)
            S_[t].addcmul_(r_[t], Gn_[t])
        else:
            # A_n = W_n x_t + b_in + U_n (r_t ⊙ h_{t-1}) + b_hn
            if via:
                torch.addcmul(r_[t], r_[t], u, value=-2.0, out=q)  # -q = r - 2 r ⊙ u
            else:
                torch.mul(r_[t], u, out=q)
            if ln is None:
                S_[t].addmm_(q, Wn_t)
            else:
                g, xhat, rstd = layer_norm(q @ Wn_t, gamma_n, S_[t])
                S_[t].copy_(g)
                xhats.append(xhat)
                rstds.append(rstd)
        act(S_[t])  # n_t (or s_t)
        # h_t = n_t + z_t ⊙ (h_{t-1} - n_t)
        if mask is None:
            torch.lerp(S_[t], u, z_[t], out=U_[t + 1])
        else:
            torch.where(mask[t], torch.lerp(S_[t], u, z_[t], out=new), u, out=U_[t + 1])
    if via:  # back from the loop's scaled quantities: h = 2u - 1, n = 2s - 1, U_n h + b_hn
        states.mul_(2.0).sub_(1.0)
        cand.mul_(2.0).sub_(1.0)
        if after:
            gates[..., 2 * H :].mul_(0.5)
    xhat_hh = rstd_hh = None
    if ln is not None and after:
        xhat_hh, rstd_hh = torch.stack(xhats), torch.stack(rstds)  # (T, B, 3H), (T, B, 1)
    elif ln is not None:  # steps alternate rz, n: (T, B, 3H) = [x̂_rz | x̂_n], (T, B, 2)
        xhat_hh = torch.cat([torch.stack(xhats[0::2]), torch.stack(xhats[1::2])], -1)
        rstd_hh = torch.cat([torch.stack(rstds[0::2]), torch.stack(rstds[1::2])], -1)
    out = states[1:] if mask is None else states[1:] * mask
    return out, states, (gates, cand, xhat_ih, rstd_ih, xhat_hh, rstd_hh)


def gru_backward(d_out, d_hT, x, w_ih, w_hh, ln, states, saved, mask, reset, has_bias):
    """Hand-derived BPTT; returns (dx, dh0, dW_ih, dW_hh, db_ih, db_hh, d_ln, dA (T, B, 3H))."""
    gates, cand, xhat_ih, rstd_ih, xhat_hh, rstd_hh = saved
    T, B, _ = x.shape
    H = w_hh.shape[1]
    after = reset == "after"
    delta = d_out.clone() if mask is None else d_out * mask  # (T, B, H): δ_t, built by the loop
    delta[T - 1] += d_hT
    dh0 = torch.zeros_like(d_hT)
    D_, D3_ = delta.unbind(0), delta.unsqueeze(2).unbind(0)
    P_ = (dh0, *D_[:-1])  # where δ_{t-1} accumulates
    dA = x.new_empty(T, B, 3, H)  # ∂E/∂A_t
    d_rec = x.new_empty(T, B, 3, H) if after else dA  # G_t; before, b_h sits on A itself
    R_ = d_rec.unbind(0)
    Azn_, Ar_ = dA[:, :, 1:].unbind(0), dA[:, :, 0].unbind(0)
    A_flat = dA.view(T, B, 3 * H)
    Arz_, An_ = A_flat[..., : 2 * H].unbind(0), A_flat[..., 2 * H :].unbind(0)
    w_rz, w_n = w_hh[: 2 * H], w_hh[2 * H :]
    dys = []  # with layer norm: ∂E/∂ of the recurrent projection before its normalisation
    step = max(1, _CHUNK // (B * H))
    for end in range(T, 0, -step):
        s = slice(max(0, end - step), end)
        r, z, n, h = gates[s, :, :H], gates[s, :, H : 2 * H], cand[s], states[s]
        # h_t = n_t + z_t ⊙ (h_{t-1} - n_t), n = tanh(A_n), z = σ(A_z): the factors of δ_t
        cn = (1.0 - n * n) * (1.0 - z)  # ∂E/∂A_n = δ_t ⊙ cn
        cz = (h - n) * z * (1.0 - z)  # ∂E/∂A_z = δ_t ⊙ cz
        carry = z  # ∂h_t/∂h_{t-1} through z_t ⊙ h_{t-1}
        if mask is not None:  # a masked step copies h_{t-1}: its gates get no gradient
            cn, cz, carry = cn * mask[s], cz * mask[s], torch.where(mask[s], z, 1.0)
        if after:
            # A_n = W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn), r = σ(A_r)
            cr = cn * gates[s, :, 2 * H :] * r * (1.0 - r)
            coef = torch.stack([cr, cz, cn], 2)  # (t, B, 3, H): ∂E/∂A = δ ⊙ coef
            K_ = torch.stack([cr, cz, cn * r], 2).unbind(0)  # G = δ ⊙ K
        else:
            # q_t = r_t ⊙ h_{t-1}, r = σ(A_r): ∂E/∂A_r = ∂E/∂q_t ⊙ cr
            cr_ = (h * r * (1.0 - r)).unbind(0)
            K_ = torch.stack([cz, cn], 2).unbind(0)
        C_, r_ = carry.unbind(0), r.unbind(0)
        for t in range(s.stop - 1, s.start - 1, -1):
            i = t - s.start
            if after:
                # G_t = [∂E/∂A_r, ∂E/∂A_z, r_t ⊙ ∂E/∂A_n]
                torch.mul(K_[i], D3_[t], out=R_[t])
                dy = R_[t].view(B, 3 * H)
                if ln is not None:  # U h_{t-1} -> LN_hh
                    dy = layer_norm_backward(dy, xhat_hh[t], rstd_hh[t], ln[2])
                    dys.append(dy)
                # δ_{t-1} = ∂E/∂y_{t-1} + δ_t ⊙ z_t + G_t U
                P_[t].addcmul_(D_[t], C_[i]).addmm_(dy, w_hh)
                continue
            # [∂E/∂A_z, ∂E/∂A_n] = δ_t ⊙ [cz, cn]
            torch.mul(K_[i], D3_[t], out=Azn_[t])
            dyn = An_[t]
            if ln is not None:  # U_n q_t -> LN_hh[n]
                dyn = layer_norm_backward(
                    dyn, xhat_hh[t, :, 2 * H :], rstd_hh[t, :, 1:], ln[2][2 * H :]
                )
            # A_n = ... + U_n q_t:  ∂E/∂q_t = ∂E/∂A_n U_n
            dq = dyn @ w_n
            torch.mul(dq, cr_[i], out=Ar_[t])  # ∂E/∂A_r
            dyrz = Arz_[t]
            if ln is not None:  # U_{rz} h_{t-1} -> LN_hh[rz]
                dyrz = layer_norm_backward(
                    dyrz, xhat_hh[t, :, : 2 * H], rstd_hh[t, :, :1], ln[2][: 2 * H]
                )
                dys.append(torch.cat([dyrz, dyn], -1))
            # δ_{t-1} = ∂E/∂y_{t-1} + δ_t ⊙ z_t + ∂E/∂q_t ⊙ r_t + [∂E/∂A_r, ∂E/∂A_z] U_{rz}
            P_[t].addcmul_(D_[t], C_[i]).addcmul_(dq, r_[i]).addmm_(dyrz, w_rz)
        if after:  # ∂E/∂A = δ ⊙ coef for the chunk
            torch.mul(delta[s].unsqueeze(2), coef, out=dA[s])
    # The sums over time and batch: one GEMM or reduction each.
    TB = T * B
    dA_flat, d_rec = dA.view(TB, 3 * H), d_rec.view(TB, 3 * H)
    dy_all = d_rec if ln is None else torch.stack(dys[::-1]).view(TB, 3 * H)
    h_prev = states[:-1].reshape(TB, H)
    if after:
        dW_hh = dy_all.T @ h_prev
    else:
        dW_hh = torch.empty_like(w_hh)
        torch.mm(dy_all[:, : 2 * H].T, h_prev, out=dW_hh[: 2 * H])
        torch.mm(dy_all[:, 2 * H :].T, gates[..., :H].reshape(TB, H) * h_prev, out=dW_hh[2 * H :])
    db_ih = dA_flat.sum(0) if has_bias or ln is not None else None
    db_hh = (d_rec.sum(0) if after else db_ih) if has_bias or ln is not None else None
    d_ln = (None,) * 4
    dxw = dA_flat
    if ln is not None:
        d_gamma_ih = (dA_flat * xhat_ih.view(TB, -1)).sum(0)
        d_gamma_hh = (d_rec * xhat_hh.view(TB, -1)).sum(0)
        d_ln = (d_gamma_ih, db_ih, d_gamma_hh, db_hh)
        dxw = layer_norm_backward(dA_flat, xhat_ih.view(TB, -1), rstd_ih.view(TB, 1), ln[0])
    dx = (dxw @ w_ih).view(T, B, -1)
    dW_ih = dxw.T @ x.reshape(TB, -1)
    if not has_bias:
        db_ih = db_hh = None
    return dx, dh0, dW_ih, dW_hh, db_ih, db_hh, d_ln, dA.view(T, B, 3 * H)


class GRUFunction(torch.autograd.Function):
    """One layer, one direction of the GRU over a whole sequence."""

    @staticmethod
    def forward(
        ctx,
        x,
        h0,
        w_ih,
        w_hh,
        b_ih,
        b_hh,
        ln_ih_weight,
        ln_ih_bias,
        ln_hh_weight,
        ln_hh_bias,
        mask,
        reset: str,
        trace: GradientTrace | None,
        key: TraceKey | None,
        reverse: bool,
    ):
        ln = None if ln_ih_weight is None else (ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias)
        out, states, saved = gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, ln, mask, reset)
        ctx.save_for_backward(x, w_ih, w_hh, ln_ih_weight, ln_hh_weight, states, mask, *saved)
        ctx.config = (reset, b_ih is not None, trace, key, reverse)
        return out, states[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hT):
        x, w_ih, w_hh, ln_ih_weight, ln_hh_weight, states, mask, *saved = ctx.saved_tensors
        reset, has_bias, trace, key, reverse = ctx.config
        ln = None if ln_ih_weight is None else (ln_ih_weight, None, ln_hh_weight, None)
        dx, dh0, dW_ih, dW_hh, db_ih, db_hh, d_ln, dA = gru_backward(
            d_out, d_hT, x, w_ih, w_hh, ln, states, saved, mask, reset, has_bias
        )
        if trace is not None:
            trace.add(key, "pre_activation", dA.flip(0) if reverse else dA)
        return dx, dh0, dW_ih, dW_hh, db_ih, db_hh, *d_ln, None, None, None, None, None


def run_gru_layer(
    x, h0, params, mask, reverse, reset="after", layer_norm=False, trace=None, key=None
):
    """One layer and direction; the reverse direction runs the kernel on time-flipped tensors."""
    if reverse:
        x = x.flip(0)
        mask = None if mask is None else mask.flip(0)
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") + (LN_NAMES if layer_norm else ())
    tensors = [params[name] for name in names] + [None] * (0 if layer_norm else 4)
    out, hT = GRUFunction.apply(x, h0, *tensors, mask, reset, trace, key, reverse)
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


class GRU(_GRUFamily, RecurrentBase):
    r"""Multi-layer GRU, a drop-in twin of :class:`torch.nn.GRU` with the lecture's variants.

    Per layer and direction (module docstring for the BPTT)::

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))      reset="after"
        n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)      reset="before"
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    Shapes: input (L, N, H_in) = (T, B, I), or (B, T, I) with ``batch_first``; h_0 and h_n
    (D·num_layers, B, H); output (T, B, D·H). Parameters, torch's names and gate order r, z, n:
    ``weight_ih_l{k}{_reverse}`` (3H, I or D·H) = [W_ir; W_iz; W_in], ``weight_hh_l{k}`` (3H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (3H,); with ``layer_norm`` also ``ln_ih_weight_l{k}``,
    ``ln_ih_bias_l{k}``, ``ln_hh_weight_l{k}``, ``ln_hh_bias_l{k}`` (3H,). Equivalent to
    :func:`seqlab.recurrent.reference.gru_layer` per layer and direction.

    Args: as :class:`torch.nn.GRU` (``input_size, hidden_size, num_layers, bias, batch_first,
    dropout, bidirectional``), plus ``reset`` ("after", torch's form, or "before", Cho et al.
    2014), ``layer_norm`` (Ba et al. 2016) and ``backend`` ("auto", "seqlab" or "torch").
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
        reset="after",
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
            reset=reset,
            layer_norm=layer_norm,
            **kwargs,
        )


class GRUCell(_GRUFamily, CellBase):
    """One GRU step, a twin of :class:`torch.nn.GRUCell` with ``reset`` and ``layer_norm``."""

    def __init__(
        self, input_size, hidden_size, bias=True, *, reset="after", layer_norm=False, **kwargs
    ):
        super().__init__(
            input_size, hidden_size, bias, reset=reset, layer_norm=layer_norm, **kwargs
        )
