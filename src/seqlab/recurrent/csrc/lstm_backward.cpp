// The LSTM's hand-derived BPTT time loop, registered as torch.ops.seqlab.lstm_backward.
// The equations are lstm.py's (its module docstring); the weight gradients, one GEMM or
// reduction each over the whole sequence, stay in Python (lstm_compiled.weight_grads), shared
// by both tiers.
#include "lstm.h"

namespace seqlab_lstm {

// d_out (T, B, H_out) contiguous; the saved tensors as lstm_forward returns them.
// Returns [dh_0, dc_0, dA, dA_hh, d_hidden, d_cells, d_cln, d_ln_hh_gain, d_ln_c_gain], where
// dA (T, B, 4H) = ∂E/∂A_t; dA_hh = ∂E/∂(U h_{t-1}) (layer norm; else dA serves);
// d_hidden = δh_t (projection, for ∂E/∂W_hr); d_cells = δc_t (keep_cell_grads, the recorder);
// d_cln = ∂E/∂LN_c(c_t) and the gains' gradients (layer norm). Absent ones are undefined.
std::vector<Tensor> lstm_backward(const Tensor& d_out_, const Tensor& d_hT, const Tensor& d_cT,
                                  const Tensor& w_hh, const OptTensor& w_hr,
                                  const OptTensor& peep_, int64_t peephole,
                                  std::vector<Tensor> ln, const Tensor& gates,
                                  const Tensor& cells, const Tensor& tanh_c,
                                  std::vector<Tensor> ln_steps, const OptTensor& mask_,
                                  bool keep_cell_grads, bool onednn) {
  const Tensor d_out = d_out_.contiguous();
  const int64_t T = gates.size(0), B = gates.size(1), H = cells.size(-1);
  const int64_t H_out = d_out.size(-1);
  const bool use_ln = !ln.empty(), proj = w_hr.has_value();
  const bool diagonal = peephole == 1, full = peephole == 2;
  const bool split = full || use_ln;  // δc_t waits for a product or a layer norm of ∂E/∂A_o
  const OptTensor mask = mask_ ? OptTensor(mask_->contiguous()) : std::nullopt;
  const Tensor peep = peep_ ? peep_->contiguous() : Tensor();
  auto opts = gates.options();

  Tensor dA = at::empty_like(gates), dA_hh = use_ln ? at::empty_like(gates) : dA;
  Tensor d_hidden = proj ? at::empty({T, B, H_out}, opts) : Tensor();
  Tensor d_cells = keep_cell_grads ? at::empty({T, B, H}, opts) : Tensor();
  Tensor d_cln = use_ln ? at::empty({T, B, H}, opts) : Tensor();
  Tensor d_ln_hh_gain, d_ln_c_gain;
  if (use_ln) d_ln_hh_gain = at::zeros({4 * H}, opts), d_ln_c_gain = at::zeros({H}, opts);
  // δh_{t-1} = ∂E/∂y_{t-1} + dA_t U: a = dA_t, w = Uᵀ (gemm.py's linear computes a wᵀ)
  StepProduct U_T(d_hT, w_hh.t(), onednn);
  std::optional<StepProduct> V_o_T, W_hr_T;
  if (full) V_o_T.emplace(d_hT, peep.t(), onednn);
  if (proj) W_hr_T.emplace(d_hT, w_hr->t(), onednn);
  Tensor dh = at::empty({B, H_out}, opts), dh_buffer = at::empty({B, H_out}, opts);
  Tensor dc_carried = d_cT.contiguous().clone(), dc_prev = at::empty({B, H}, opts);
  const bool* m_data = mask_data(mask);

  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lstm_backward", [&] {
    using V = Vec<scalar_t>;
    const V one(1);
    const scalar_t* a_data = gates.data_ptr<scalar_t>();  // i, f, g, o
    const scalar_t* c_data = cells.data_ptr<scalar_t>();
    const scalar_t* tc_data = tanh_c.data_ptr<scalar_t>();
    const scalar_t* dy_data = d_out.data_ptr<scalar_t>();
    const scalar_t* p_data = diagonal ? peep.data_ptr<scalar_t>() : nullptr;  // p_i, p_f, p_o
    scalar_t* dA_data = dA.data_ptr<scalar_t>();
    scalar_t* dcl_data = use_ln ? d_cln.data_ptr<scalar_t>() : nullptr;
    scalar_t* dcs_data = keep_cell_grads ? d_cells.data_ptr<scalar_t>() : nullptr;

    // δh_T = ∂E/∂y_T + ∂E/∂h_T (the output of a masked step gets none)
    {
      scalar_t* d = dh.data_ptr<scalar_t>();
      const Tensor d_hT_dense = d_hT.contiguous();
      const scalar_t* dT = d_hT_dense.data_ptr<scalar_t>();
      const scalar_t* dy = dy_data + (T - 1) * B * H_out;
      for (int64_t b = 0; b < B; ++b) {
        const bool m = !m_data || m_data[(T - 1) * B + b];
        for (int64_t j = 0; j < H_out; ++j)
          d[b * H_out + j] = dT[b * H_out + j] + (m ? dy[b * H_out + j] : scalar_t(0));
      }
    }

    for (int64_t t = T - 1; t >= 0; --t) {
      Tensor du = dh;  // ∂E/∂(o ⊙ tanh(c_t))
      if (proj) {      // h_t = W_hr (o ⊙ tanh(c_t))
        d_hidden[t].copy_(dh);
        du = (*W_hr_T)(dh).contiguous();
      }
      const scalar_t* du_data = du.data_ptr<scalar_t>();
      const scalar_t* dcc = dc_carried.data_ptr<scalar_t>();
      scalar_t* dcp = dc_prev.data_ptr<scalar_t>();
      auto masked = [&](int64_t b) { return m_data && !m_data[t * B + b]; };

      // ∂E/∂A_o = δh_t ⊙ tanh(c_t) ⊙ o(1-o); with layer norm also ∂E/∂LN_c(c_t) =
      // δh_t ⊙ o ⊙ (1 - tanh²(LN_c(c_t))). A masked step computes nothing: zero gradients.
      auto output_gate = [&](int64_t b, int64_t j, int64_t n) {
        const int64_t row = t * B + b;
        const V d = load(du_data + b * H + j, n), o = load(a_data + row * 4 * H + 3 * H + j, n);
        const V tc = load(tc_data + row * H + j, n);
        const V dA_o = d * tc * o * (one - o);
        dA_o.store(dA_data + row * 4 * H + 3 * H + j, n);
        if (use_ln) (d * o * (one - tc * tc)).store(dcl_data + row * H + j, n);
        return dA_o;
      };
      if (split) {
        for_rows(B, 8 * H, [&](int64_t b) {
          const int64_t row = t * B + b;
          if (masked(b)) {
            std::fill(dA_data + row * 4 * H + 3 * H, dA_data + (row + 1) * 4 * H, scalar_t(0));
            if (use_ln) std::fill(dcl_data + row * H, dcl_data + (row + 1) * H, scalar_t(0));
            return;
          }
          for_columns<scalar_t>(H, [&](int64_t j, int64_t n) { output_gate(b, j, n); });
        });
      }
      Tensor dc_ln;  // c_t feeds h_t through tanh(LN_c(c_t))
      if (use_ln) {
        auto [dx, dgain, unused] = at::native_layer_norm_backward(
            d_cln[t], ln_steps[3][t], {H}, ln_steps[4][t], ln_steps[5][t], ln[4], ln[4],
            {true, true, false});
        dc_ln = dx.contiguous();
        d_ln_c_gain.add_(dgain);
      }
      const scalar_t* dcln_data = use_ln ? dc_ln.data_ptr<scalar_t>() : nullptr;
      // o_t = σ(A_o + V_o c_t): δc_t += (∂E/∂A_o) V_o
      const Tensor vd =
          full ? (*V_o_T)(dA[t].narrow(1, 3 * H, H)).contiguous() : Tensor();
      const scalar_t* vd_data = full ? vd.data_ptr<scalar_t>() : nullptr;

      for_rows(B, 30 * H, [&](int64_t b) {
        const int64_t row = t * B + b;
        scalar_t* dA_row = dA_data + row * 4 * H;
        if (masked(b)) {  // the carried state passes δ through unchanged
          std::fill(dA_row, dA_row + (split ? 3 : 4) * H, scalar_t(0));
          std::copy(dcc + b * H, dcc + (b + 1) * H, dcp + b * H);
          if (keep_cell_grads) std::fill(dcs_data + row * H, dcs_data + (row + 1) * H, scalar_t(0));
          return;
        }
        const scalar_t* a = a_data + row * 4 * H;
        for_columns<scalar_t>(H, [&](int64_t j, int64_t n) {
          const V dA_o = split ? load(dA_row + 3 * H + j, n) : output_gate(b, j, n);
          // δc_t = δc (from t+1) + δh_t ⊙ o ⊙ (1 - tanh²(c_t)) [or the LN_c gradient]
          V dc = load(dcc + b * H + j, n);
          if (use_ln) {
            dc = dc + load(dcln_data + b * H + j, n);
          } else {
            const V o = load(a + 3 * H + j, n), tc = load(tc_data + row * H + j, n);
            dc = dc + load(du_data + b * H + j, n) * o * (one - tc * tc);
          }
          if (diagonal) dc = dc + dA_o * load(p_data + 2 * H + j, n);  // + (∂E/∂A_o) ⊙ p_o
          if (full) dc = dc + load(vd_data + b * H + j, n);              // + (∂E/∂A_o) V_o
          if (keep_cell_grads) dc.store(dcs_data + row * H + j, n);
          // c_t = f ⊙ c_{t-1} + i ⊙ g, with i, f, g = σ(A_i), σ(A_f), tanh(A_g)
          const V i = load(a + j, n), f = load(a + H + j, n), g = load(a + 2 * H + j, n);
          const V c_prev = load(c_data + row * H + j, n);
          const V dA_i = dc * g * i * (one - i);       // ∂E/∂A_i = δc_t ⊙ g ⊙ i(1-i)
          const V dA_f = dc * c_prev * f * (one - f);  // ∂E/∂A_f = δc_t ⊙ c_{t-1} ⊙ f(1-f)
          const V dA_g = dc * i * (one - g * g);       // ∂E/∂A_g = δc_t ⊙ i ⊙ (1-g²)
          dA_i.store(dA_row + j, n);
          dA_f.store(dA_row + H + j, n);
          dA_g.store(dA_row + 2 * H + j, n);
          V dc_p = dc * f;  // δc_{t-1} = δc_t ⊙ f + (∂E/∂A_i) ⊙ p_i + (∂E/∂A_f) ⊙ p_f
          if (diagonal) dc_p = dc_p + dA_i * load(p_data + j, n) + dA_f * load(p_data + H + j, n);
          dc_p.store(dcp + b * H + j, n);
        });
      });

      if (use_ln) {  // A_t = ... + LN_hh(U h_{t-1})
        auto [dx, dgain, unused] = at::native_layer_norm_backward(
            dA[t], ln_steps[0][t], {4 * H}, ln_steps[1][t], ln_steps[2][t], ln[2], ln[2],
            {true, true, false});
        dA_hh[t].copy_(dx);
        d_ln_hh_gain.add_(dgain);
      }
      // δh_{t-1} = ∂E/∂y_{t-1} + dA_t U; a masked step's δh_t passes through.
      Tensor below = m_data ? dh_buffer : (t > 0 ? d_out[t - 1] : dh_buffer.zero_());
      if (m_data) {
        scalar_t* bl = below.data_ptr<scalar_t>();
        const scalar_t* d = dh.data_ptr<scalar_t>();
        const scalar_t* dy = t > 0 ? dy_data + (t - 1) * B * H_out : nullptr;
        for (int64_t b = 0; b < B; ++b) {
          const bool prev_kept = t > 0 && (!m_data || m_data[(t - 1) * B + b]);
          const bool carry = masked(b);
          for (int64_t j = 0; j < H_out; ++j) {
            const int64_t k = b * H_out + j;
            bl[k] = (prev_kept ? dy[k] : scalar_t(0)) + (carry ? d[k] : scalar_t(0));
          }
        }
      }
      if (U_T.onednn()) {
        at::add_out(dh, below, U_T(dA_hh[t]));
      } else {
        at::addmm_out(dh, below, dA_hh[t], w_hh);
      }
      std::swap(dc_carried, dc_prev);
    }
  });

  return {dh, dc_carried, dA, use_ln ? dA_hh : Tensor(), d_hidden, d_cells, d_cln,
          d_ln_hh_gain, d_ln_c_gain};
}

}  // namespace seqlab_lstm

TORCH_LIBRARY_FRAGMENT(seqlab, m) { m.def("lstm_backward", &seqlab_lstm::lstm_backward); }
