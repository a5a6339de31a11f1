// The GRU time loops (forward and hand-derived backward), registered as torch.ops.seqlab.*.
//
// The equations are gru.py's (its docstring has them in full, gates r, z, n):
//   r_t = σ(A_r), z_t = σ(A_z), n_t = tanh(A_n), h_t = n_t + z_t ⊙ (h_{t-1} - n_t)
//   after:  A_n = W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn)
//   before: A_n = W_n x_t + b_in + U_n q_t + b_hn,  q_t = r_t ⊙ h_{t-1}
// with layer norm on W x_t (LN_ih) and on the recurrent projections (LN_hh). Per step: the
// GEMM(s) and one fused pass over (B, H) each; tanh is computed directly, so the loops run in h
// itself (the Python kernel's u = (h + 1) / 2 and folded factors are tricks for ATen's slow
// tanh). What is saved is what gru.py's kernel saves, so either backward reads either forward.
#include "gru_rnn_common.h"

namespace seqlab {
namespace {

constexpr double kLayerNormEps = 1e-5;  // pointwise.LAYER_NORM_EPS

using Tensors = std::vector<at::Tensor>;

// LN(p) with gain g and no shift: (normalised, mean, rstd), as pointwise.layer_norm
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm(const at::Tensor& p,
                                                          const at::Tensor& gain) {
  return at::native_layer_norm(p, {p.size(-1)}, gain, std::nullopt, kLayerNormEps);
}

// ∂E/∂p and the gain's gradient Σ dy ⊙ p̂ (and the shift's, Σ dy) of LN(p), from its
// saved (p, mean, rstd), as pointwise.layer_norm_backward
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward(const at::Tensor& dy,
                                                                   const at::Tensor* saved,
                                                                   const at::Tensor& gain) {
  const at::Tensor& p = saved[0];
  return at::native_layer_norm_backward(dy.contiguous(), p, {p.size(-1)}, saved[1], saved[2], gain, gain,
                                        {true, true, true});
}

// Returns (out (T, B, H), states (T+1, B, H) with states[0] = h_0, gates (T, B, 3H) =
// [r, z, U_n h + b_hn] (after) or [r, z, n] (before), candidate (T, B, H) = n, the input layer
// norm's [x̂-input, mean, rstd] or [], the recurrent layer norms' per-step (input, mean, rstd)
// flattened: after one triple a step, before two (rz, then n); [] without layer norm or
// without `needs_backward`), as gru.gru_forward.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, Tensors, Tensors> gru_forward(
    const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_ih, const at::Tensor& w_hh,
    const std::optional<at::Tensor>& b_ih, const std::optional<at::Tensor>& b_hh,
    const std::optional<at::Tensor>& ln_ih_weight, const std::optional<at::Tensor>& ln_ih_bias,
    const std::optional<at::Tensor>& ln_hh_weight, const std::optional<at::Tensor>& ln_hh_bias,
    const std::optional<at::Tensor>& mask, bool reset_after, bool needs_backward, bool onednn) {
  const int64_t T = x.size(0), B = x.size(1), H = h0.size(1);
  const bool ln = ln_ih_weight.has_value();
  // The recurrent pre-activations' constant part: b_h (+ LN_hh's shift), (3H,)
  at::Tensor recurrent_bias = b_hh ? b_hh->clone() : at::zeros({3 * H}, x.options());
  if (ln) recurrent_bias.add_(*ln_hh_bias);
  // Added to W x_t: b_i and the constant sums outside r_t ⊙ (...) (after: b_hn stays inside)
  at::Tensor input_bias = b_ih ? b_ih->clone() : at::zeros({3 * H}, x.options());
  input_bias.narrow(0, 0, reset_after ? 2 * H : 3 * H)
      .add_(recurrent_bias.narrow(0, 0, reset_after ? 2 * H : 3 * H));
  // W x_t for every step: one GEMM, (T, B, 3H); then + the biases, or LN_ih(W x_t) + them
  at::Tensor gates = linear(x.reshape({T * B, -1}), w_ih, onednn).view({T, B, 3 * H});
  Tensors ln_ih, ln_steps;
  if (!ln) {
    gates.add_(input_bias);
  } else {
    auto [normalised, mean, rstd] = at::native_layer_norm(
        gates, {3 * H}, *ln_ih_weight, *ln_ih_bias + input_bias, kLayerNormEps);
    ln_ih = {gates, mean, rstd};
    gates = normalised;
  }
  // after: the n slot of gates takes U_n h + b_hn; W_n x_t + b_in moves to candidate, a buffer
  // of its own (a copy, even where T = B = 1 makes the slot's view count as contiguous)
  at::Tensor candidate = reset_after ? gates.narrow(2, 2 * H, H).clone(at::MemoryFormat::Contiguous)
                                     : gates.narrow(2, 2 * H, H);
  at::Tensor states = at::empty({T + 1, B, H}, x.options());
  states[0].copy_(h0);
  const bool fresh = ln && needs_backward;  // each step's projection is saved for LN_hh's backward
  // U h_{t-1} (after, (3H, H)) or U_{rz} h_{t-1} and U_n q_t (before)
  StepProduct recurrent(h0, reset_after ? w_hh : w_hh.narrow(0, 0, 2 * H), onednn, fresh);
  StepProduct reset_state(h0, w_hh.narrow(0, 2 * H, H), onednn, fresh);
  at::Tensor ln_hh_all, ln_hh_rz, ln_hh_n;  // LN_hh's gains: all 3H (after), rz and n (before)
  if (ln) {
    ln_hh_all = *ln_hh_weight;
    ln_hh_rz = ln_hh_weight->narrow(0, 0, 2 * H);
    ln_hh_n = ln_hh_weight->narrow(0, 2 * H, H);
  }
  at::Tensor q = at::empty({B, H}, x.options());  // q_t = r_t ⊙ h_{t-1} (before)
  const StepMask valid(mask, B);
  // The step's recurrent projection p, through LN_hh with `gain` where there is one.
  auto project = [&](StepProduct& product, const at::Tensor& input, const at::Tensor& gain) {
    at::Tensor p = product(input);
    if (!ln) return p;
    auto [normalised, mean, rstd] = layer_norm(p, gain);
    if (needs_backward) ln_steps.insert(ln_steps.end(), {p, mean, rstd});
    return normalised;
  };
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gru_forward", [&] {
    using Vec = Vectorized<scalar_t>;
    scalar_t* gate_data = gates.data_ptr<scalar_t>();
    scalar_t* cand_data = candidate.data_ptr<scalar_t>();
    scalar_t* state_data = states.data_ptr<scalar_t>();
    scalar_t* q_data = q.data_ptr<scalar_t>();
    const int64_t cand_stride = candidate.stride(1);  // H (after) or 3H (a view of gates)
    const scalar_t* b_hn = recurrent_bias.data_ptr<scalar_t>() + 2 * H;
    for (int64_t t = 0; t < T; ++t) {
      const scalar_t* h_data = state_data + t * B * H;
      scalar_t* next_data = state_data + (t + 1) * B * H;
      // h_t = n_t + z_t ⊙ (h_{t-1} - n_t), kept at h_{t-1} where the step is masked
      auto update = [&](int64_t b, int64_t j, int64_t n, const Vec& z, const Vec& cand) {
        const Vec h = Vec::loadu(h_data + b * H + j, n);
        (valid.valid(t, b) ? cand + z * (h - cand) : h).store(next_data + b * H + j, n);
      };
      if (reset_after) {
        const at::Tensor p = project(recurrent, states[t], ln_hh_all);  // (B, 3H)
        const scalar_t* p_data = p.data_ptr<scalar_t>();
        for_rows(B, 40 * H, [&](int64_t b) {
          scalar_t* g = gate_data + (t * B + b) * 3 * H;
          scalar_t* c = cand_data + (t * B + b) * cand_stride;
          const scalar_t* pr = p_data + b * 3 * H;
          for_columns<scalar_t>(H, [&](int64_t j, int64_t n) {
            // r_t = σ(A_r), z_t = σ(A_z): A = W x_t + b_i + b_h + (LN_hh) U h_{t-1}
            const Vec r = sigmoid(Vec::loadu(g + j, n) + Vec::loadu(pr + j, n));
            const Vec z = sigmoid(Vec::loadu(g + H + j, n) + Vec::loadu(pr + H + j, n));
            // U_n h_{t-1} + b_hn;  n_t = tanh(W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn))
            const Vec hn = Vec::loadu(pr + 2 * H + j, n) + Vec::loadu(b_hn + j, n);
            const Vec cand = tanh(Vec::loadu(c + j, n) + r * hn);
            r.store(g + j, n);
            z.store(g + H + j, n);
            hn.store(g + 2 * H + j, n);
            cand.store(c + j, n);
            update(b, j, n, z, cand);
          });
        });
        continue;
      }
      const at::Tensor p = project(recurrent, states[t], ln_hh_rz);  // (B, 2H)
      const scalar_t* p_data = p.data_ptr<scalar_t>();
      for_rows(B, 24 * H, [&](int64_t b) {
        scalar_t* g = gate_data + (t * B + b) * 3 * H;
        const scalar_t* pr = p_data + b * 2 * H;
        const scalar_t* h = h_data + b * H;
        for_columns<scalar_t>(H, [&](int64_t j, int64_t n) {
          // r_t = σ(A_r), z_t = σ(A_z): A = W x_t + b_i + b_h + (LN_hh) U_{rz} h_{t-1}
          const Vec r = sigmoid(Vec::loadu(g + j, n) + Vec::loadu(pr + j, n));
          const Vec z = sigmoid(Vec::loadu(g + H + j, n) + Vec::loadu(pr + H + j, n));
          r.store(g + j, n);
          z.store(g + H + j, n);
          (r * Vec::loadu(h + j, n)).store(q_data + b * H + j, n);  // q_t = r_t ⊙ h_{t-1}
        });
      });
      const at::Tensor pn = project(reset_state, q, ln_hh_n);  // (B, H)
      const scalar_t* pn_data = pn.data_ptr<scalar_t>();
      for_rows(B, 16 * H, [&](int64_t b) {
        scalar_t* g = gate_data + (t * B + b) * 3 * H;
        const scalar_t* pr = pn_data + b * H;
        for_columns<scalar_t>(H, [&](int64_t j, int64_t n) {
          // n_t = tanh(W_n x_t + b_in + b_hn + (LN_hh) U_n q_t)
          const Vec cand = tanh(Vec::loadu(g + 2 * H + j, n) + Vec::loadu(pr + j, n));
          cand.store(g + 2 * H + j, n);
          update(b, j, n, Vec::loadu(g + H + j, n), cand);
        });
      });
    }
  });
  at::Tensor out = states.narrow(0, 1, T);
  if (mask) out = out * *mask;
  return {out, states, gates, candidate, ln_ih, ln_steps};
}

// The δ chain of gru.gru_backward. Returns (dA (T, B, 3H) = ∂E/∂A_t for gates r, z, n;
// d_projection (T, B, 3H) = ∂E/∂ of the recurrent projection (after: G_t = ∂E/∂(U h_{t-1} +
// b_h), before: ∂E/∂(U_{rz} h_{t-1}) and ∂E/∂(U_n q_t)), before LN_hh where there is one;
// dh0 (B, H); LN_hh's [gain gradient, shift gradient (after only)] or []). d_out (T, B, H).
std::tuple<at::Tensor, at::Tensor, at::Tensor, Tensors> gru_backward(
    const at::Tensor& d_out_in, const at::Tensor& d_hT, const at::Tensor& w_hh,
    const at::Tensor& states, const at::Tensor& gates, const at::Tensor& candidate,
    const std::optional<at::Tensor>& ln_hh_weight, const Tensors& ln_steps,
    const std::optional<at::Tensor>& mask, bool reset_after, bool onednn) {
  const at::Tensor d_out = d_out_in.contiguous();
  const int64_t T = d_out.size(0), B = d_out.size(1), H = d_out.size(2);
  const bool ln = ln_hh_weight.has_value();
  // δ_{T-1} = ∂E/∂y_{T-1} (zero where masked) + ∂E/∂h_T
  at::Tensor delta = mask ? d_out[T - 1] * (*mask)[T - 1] : d_out[T - 1].clone();
  delta.add_(d_hT);
  at::Tensor dA = at::empty({T, B, 3 * H}, d_out.options());
  // after: G_t; before without layer norm: ∂E/∂A_t itself (b_h sits on A)
  at::Tensor d_projection = reset_after || ln ? at::empty_like(dA) : dA;
  at::Tensor d_gain, d_shift;
  if (ln) {
    d_gain = at::zeros_like(*ln_hh_weight);
    d_shift = at::zeros_like(*ln_hh_weight);
  }
  // The δ products a @ U as a @ (Uᵀ)ᵀ: G_t U (after), ∂E/∂A_n U_n and [∂E/∂A_r, ∂E/∂A_z] U_{rz}
  const at::Tensor like_rows = dA[0];  // (B, 3H)
  StepProduct recurrent(reset_after ? like_rows : like_rows.narrow(1, 0, 2 * H),
                        (reset_after ? w_hh : w_hh.narrow(0, 0, 2 * H)).t(), onednn);
  StepProduct reset_state(like_rows.narrow(1, 0, H), w_hh.narrow(0, 2 * H, H).t(), onednn);
  const StepMask valid(mask, B);
  AT_DISPATCH_FLOATING_TYPES(d_out.scalar_type(), "gru_backward", [&] {
    using Vec = Vectorized<scalar_t>;
    const Vec one(scalar_t(1));
    const scalar_t* d_out_data = d_out.data_ptr<scalar_t>();
    const scalar_t* gate_data = gates.data_ptr<scalar_t>();
    const scalar_t* cand_data = candidate.data_ptr<scalar_t>();
    const int64_t cand_stride = candidate.stride(1);
    const scalar_t* state_data = states.data_ptr<scalar_t>();
    scalar_t* dA_data = dA.data_ptr<scalar_t>();
    scalar_t* dp_data = d_projection.data_ptr<scalar_t>();
    scalar_t* delta_data = delta.data_ptr<scalar_t>();
    // δ_{t-1} = ∂E/∂y_{t-1} + δ_t ⊙ z_t + (the recurrent products, `extra`) for row b, where
    // a masked step t copies h_{t-1}: δ_t passes whole (its z is replaced by 1)
    auto next_delta = [&](int64_t t, int64_t b, int64_t j, int64_t n, const Vec& extra) {
      const scalar_t* z = gate_data + (t * B + b) * 3 * H + H;
      Vec d = Vec::loadu(delta_data + b * H + j, n);
      d = (valid.valid(t, b) ? d * Vec::loadu(z + j, n) : d) + extra;
      if (t > 0 && valid.valid(t - 1, b)) d = d + Vec::loadu(d_out_data + ((t - 1) * B + b) * H + j, n);
      d.store(delta_data + b * H + j, n);
    };
    for (int64_t t = T - 1; t >= 0; --t) {
      // h_t = n_t + z_t ⊙ (h_{t-1} - n_t), n = tanh(A_n), z = σ(A_z); a masked step's gates
      // get no gradient:
      //   ∂E/∂A_n = δ_t ⊙ (1 - z_t) ⊙ (1 - n_t²),  ∂E/∂A_z = δ_t ⊙ (h_{t-1} - n_t) ⊙ z_t (1 - z_t)
      // after, A_n = W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn), r = σ(A_r):
      //   ∂E/∂A_r = ∂E/∂A_n ⊙ (U_n h_{t-1} + b_hn) ⊙ r_t (1 - r_t)
      //   G_t = [∂E/∂A_r, ∂E/∂A_z, r_t ⊙ ∂E/∂A_n]
      for_rows(B, 20 * H, [&](int64_t b) {
        const int64_t row = t * B + b;
        scalar_t* dA_row = dA_data + row * 3 * H;
        scalar_t* dp_row = dp_data + row * 3 * H;
        if (!valid.valid(t, b)) {
          std::fill(dA_row, dA_row + 3 * H, scalar_t(0));
          if (reset_after) std::fill(dp_row, dp_row + 3 * H, scalar_t(0));
          return;
        }
        const scalar_t* g = gate_data + row * 3 * H;
        const scalar_t* c = cand_data + row * cand_stride;
        const scalar_t* h = state_data + row * H;
        const scalar_t* d = delta_data + b * H;
        for_columns<scalar_t>(H, [&](int64_t j, int64_t n) {
          const Vec delta_t = Vec::loadu(d + j, n), z = Vec::loadu(g + H + j, n);
          const Vec cand = Vec::loadu(c + j, n);
          const Vec dA_n = delta_t * (one - z) * (one - cand * cand);
          const Vec dA_z = delta_t * (Vec::loadu(h + j, n) - cand) * z * (one - z);
          dA_z.store(dA_row + H + j, n);
          dA_n.store(dA_row + 2 * H + j, n);
          if (!reset_after) return;
          const Vec r = Vec::loadu(g + j, n);
          const Vec dA_r = dA_n * Vec::loadu(g + 2 * H + j, n) * r * (one - r);
          dA_r.store(dA_row + j, n);
          dA_r.store(dp_row + j, n);
          dA_z.store(dp_row + H + j, n);
          (r * dA_n).store(dp_row + 2 * H + j, n);
        });
      });
      if (reset_after) {
        at::Tensor g_t = d_projection[t];  // (B, 3H)
        if (ln) {  // LN_hh(U h_{t-1}): ∂E/∂(U h_{t-1}), its gain's and shift's gradients
          auto [dp, dg, ds] = layer_norm_backward(g_t, &ln_steps[3 * t], *ln_hh_weight);
          d_gain.add_(dg);
          d_shift.add_(ds);
          g_t.copy_(dp);
        }
        const at::Tensor gU = recurrent(g_t);  // (B, H): G_t U
        const scalar_t* gU_data = gU.data_ptr<scalar_t>();
        // δ_{t-1} = ∂E/∂y_{t-1} + δ_t ⊙ z_t + G_t U
        for_rows(B, 4 * H, [&](int64_t b) {
          for_columns<scalar_t>(H, [&](int64_t j, int64_t n) {
            next_delta(t, b, j, n, Vec::loadu(gU_data + b * H + j, n));
          });
        });
        continue;
      }
      at::Tensor d_pn = dA[t].narrow(1, 2 * H, H);  // (B, H): ∂E/∂A_n
      if (ln) {  // LN_hh[n](U_n q_t)
        auto [dp, dg, ds] = layer_norm_backward(d_pn, &ln_steps[6 * t + 3],
                                                ln_hh_weight->narrow(0, 2 * H, H));
        d_gain.narrow(0, 2 * H, H).add_(dg);
        d_projection[t].narrow(1, 2 * H, H).copy_(dp);
        d_pn = dp;
      }
      // A_n = ... + U_n q_t:  ∂E/∂q_t = ∂E/∂A_n U_n
      const at::Tensor dq = reset_state(d_pn);  // (B, H)
      const scalar_t* dq_data = dq.data_ptr<scalar_t>();
      // q_t = r_t ⊙ h_{t-1}, r_t = σ(A_r):  ∂E/∂A_r = ∂E/∂q_t ⊙ h_{t-1} ⊙ r_t (1 - r_t)
      for_rows(B, 6 * H, [&](int64_t b) {
        const int64_t row = t * B + b;
        const scalar_t* r = gate_data + row * 3 * H;
        const scalar_t* h = state_data + row * H;
        for_columns<scalar_t>(H, [&](int64_t j, int64_t n) {
          const Vec r_t = Vec::loadu(r + j, n);
          (Vec::loadu(dq_data + b * H + j, n) * Vec::loadu(h + j, n) * r_t * (one - r_t))
              .store(dA_data + row * 3 * H + j, n);
        });
      });
      at::Tensor d_prz = dA[t].narrow(1, 0, 2 * H);  // (B, 2H)
      if (ln) {  // LN_hh[rz](U_{rz} h_{t-1})
        auto [dp, dg, ds] = layer_norm_backward(d_prz, &ln_steps[6 * t],
                                                ln_hh_weight->narrow(0, 0, 2 * H));
        d_gain.narrow(0, 0, 2 * H).add_(dg);
        d_projection[t].narrow(1, 0, 2 * H).copy_(dp);
        d_prz = dp;
      }
      const at::Tensor rzU = recurrent(d_prz);  // (B, H): [∂E/∂A_r, ∂E/∂A_z] U_{rz}
      const scalar_t* rzU_data = rzU.data_ptr<scalar_t>();
      // δ_{t-1} = ∂E/∂y_{t-1} + δ_t ⊙ z_t + ∂E/∂q_t ⊙ r_t + [∂E/∂A_r, ∂E/∂A_z] U_{rz}
      for_rows(B, 6 * H, [&](int64_t b) {
        const scalar_t* r = gate_data + (t * B + b) * 3 * H;
        for_columns<scalar_t>(H, [&](int64_t j, int64_t n) {
          const Vec extra = Vec::loadu(dq_data + b * H + j, n) * Vec::loadu(r + j, n) +
                            Vec::loadu(rzU_data + b * H + j, n);
          next_delta(t, b, j, n, extra);
        });
      });
    }
  });
  Tensors d_ln_hh;
  if (ln) d_ln_hh = reset_after ? Tensors{d_gain, d_shift} : Tensors{d_gain};
  return {dA, d_projection, delta, d_ln_hh};
}

}  // namespace
}  // namespace seqlab

TORCH_LIBRARY_FRAGMENT(seqlab, m) {
  m.def("gru_forward", &seqlab::gru_forward);
  m.def("gru_backward", &seqlab::gru_backward);
}
