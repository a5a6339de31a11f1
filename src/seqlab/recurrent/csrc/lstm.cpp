// The LSTM's forward time loop, registered as torch.ops.seqlab.lstm_forward (the backward is
// in lstm_backward.cpp, the shared helpers and the equations' notation in lstm.h).
#include "lstm.h"

namespace seqlab_lstm {

// Returns [gates, cells, hidden, tanh_c], then [unprojected] with a projection, then
// [ln_ih_input, ln_ih_mean, ln_ih_rstd, recurrent, mean_hh, rstd_hh, c_pre, mean_c, rstd_c]
// with layer norm: lstm.py's saved tensors, its per-step layer-norm tuples stacked over t.
// gates (T, B, 4H) holds i, f, g = tanh(A_g), o; cells (T+1, B, H) and hidden (T+1, B, H_out)
// the carried states from c_0 and h_0. `peephole`: 0 none, 1 diagonal, 2 full; `ln` empty or
// the six layer-norm tensors ih_w, ih_b, hh_w, hh_b, c_w, c_b; `mask` (T, B, 1) bool.
std::vector<Tensor> lstm_forward(const Tensor& x_, const Tensor& h0, const Tensor& c0,
                                 const Tensor& w_ih, const Tensor& w_hh,
                                 const OptTensor& bias_ih, const OptTensor& bias_hh,
                                 const OptTensor& w_hr, const OptTensor& peep_,
                                 int64_t peephole, std::vector<Tensor> ln,
                                 const OptTensor& mask_, bool onednn) {
  const Tensor x = x_.contiguous();
  const int64_t T = x.size(0), B = x.size(1), H = w_hh.size(0) / 4, H_out = h0.size(-1);
  const bool use_ln = !ln.empty(), proj = w_hr.has_value();
  for (Tensor& p : ln) p = p.contiguous();  // read by pointer in layer_norm_rows
  const bool diagonal = peephole == 1, full = peephole == 2;
  // o waits for a product (V_o c_t) or a layer norm (LN_c(c_t)) in the middle of the step
  const bool split = full || use_ln;
  const OptTensor mask = mask_ ? OptTensor(mask_->contiguous()) : std::nullopt;
  const Tensor peep = peep_ ? peep_->contiguous() : Tensor();
  auto opts = x.options();

  // W x_t for all steps in one GEMM; this buffer then receives A_t and the activations.
  Tensor gates = linear(x.view({T * B, -1}), w_ih, onednn).contiguous().view({T, B, 4 * H});
  std::vector<Tensor> ln_saved;  // LN_ih's (input, mean, rstd), then the per-step ones
  if (use_ln) {
    auto [y, mean, rstd] = at::native_layer_norm(gates, {4 * H}, ln[0], ln[1], 1e-5);
    ln_saved = {gates, mean, rstd};
    gates = y;
  }
  if (bias_ih) gates.add_(*bias_ih + *bias_hh);  // A_t = W x_t + b (+ U h_{t-1} below)

  Tensor cells = at::empty({T + 1, B, H}, opts), hidden = at::empty({T + 1, B, H_out}, opts);
  Tensor tanh_c = at::empty({T, B, H}, opts);
  Tensor unprojected = proj ? at::empty({T, B, H}, opts) : Tensor();
  cells[0].copy_(c0);
  hidden[0].copy_(h0);
  Tensor recurrent, mean_hh, rstd_hh, c_pre, mean_c, rstd_c, c_ln;
  if (use_ln) {
    recurrent = at::empty({T, B, 4 * H}, opts);  // U h_{t-1}, LN_hh's input
    mean_hh = at::empty({T, B, 1}, opts), rstd_hh = at::empty({T, B, 1}, opts);
    c_pre = at::empty({T, B, H}, opts);  // c_t before the mask, LN_c's input
    c_ln = at::empty({B, H}, opts);       // LN_c(c_t) of the step
    mean_c = at::empty({T, B, 1}, opts), rstd_c = at::empty({T, B, 1}, opts);
  }
  // c_t before the mask where nothing else keeps it
  Tensor c_tmp = (mask && !use_ln) ? at::empty({B, H}, opts) : Tensor();
  Tensor rec_ln = use_ln ? at::empty({B, 4 * H}, opts) : Tensor();  // LN_hh(U h_{t-1})
  Tensor h_buffer = (proj && mask) ? at::empty({B, H_out}, opts) : Tensor();
  StepProduct U(h0, w_hh, onednn);
  std::optional<StepProduct> V_o, W_hr;
  if (full) V_o.emplace(h0, peep, onednn);
  if (proj) W_hr.emplace(h0, *w_hr, onednn);
  const bool* m_data = mask_data(mask);

  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lstm_forward", [&] {
    using V = Vec<scalar_t>;
    scalar_t* a_data = gates.data_ptr<scalar_t>();
    scalar_t* c_data = cells.data_ptr<scalar_t>();
    scalar_t* h_data = hidden.data_ptr<scalar_t>();
    scalar_t* tc_data = tanh_c.data_ptr<scalar_t>();
    scalar_t* u_data = proj ? unprojected.data_ptr<scalar_t>() : nullptr;
    const scalar_t* p_data = diagonal ? peep.data_ptr<scalar_t>() : nullptr;  // p_i, p_f, p_o

    for (int64_t t = 0; t < T; ++t) {
      const Tensor h = hidden[t];
      Tensor rec;  // U h_{t-1}, or LN_hh(U h_{t-1})
      if (use_ln) {
        Tensor raw = recurrent[t];
        U.into(h, raw);
        layer_norm_rows(raw.data_ptr<scalar_t>(), rec_ln.data_ptr<scalar_t>(),
                        ln[2].data_ptr<scalar_t>(), ln[3].data_ptr<scalar_t>(),
                        mean_hh.data_ptr<scalar_t>() + t * B, rstd_hh.data_ptr<scalar_t>() + t * B,
                        B, 4 * H);
        rec = rec_ln;
      } else {
        rec = U(h).contiguous();
      }
      const scalar_t* r_data = rec.data_ptr<scalar_t>();
      // where c_t goes before the mask decides what is carried
      Tensor c_new = use_ln ? c_pre[t] : (mask ? c_tmp : cells[t + 1]);
      scalar_t* cn_data = c_new.data_ptr<scalar_t>();

      // h_t = o ⊙ tanh(c_t) (into unprojected[t] before W_hr), and the carried states of a
      // masked row: (c_t, h_t) = (c_{t-1}, h_{t-1}) where the sequence has ended.
      auto finish_row = [&](int64_t b, int64_t j, int64_t n, const V& o, const V& tc) {
        const int64_t row = t * B + b;
        (tc).store(tc_data + row * H + j, n);
        if (proj) (o * tc).store(u_data + row * H + j, n);
        else if (!m_data || m_data[row]) (o * tc).store(h_data + (row + B) * H + j, n);
      };
      auto carry_row = [&](int64_t b) {
        const int64_t row = t * B + b;
        const bool kept = !m_data || m_data[row];
        if (use_ln || m_data) {  // c_t was formed elsewhere than in cells[t + 1]
          const scalar_t* c_src = kept ? cn_data + b * H : c_data + row * H;
          std::copy(c_src, c_src + H, c_data + (row + B) * H);
        }
        if (!proj && !kept)
          std::copy(h_data + row * H_out, h_data + (row + 1) * H_out, h_data + (row + B) * H_out);
      };

      // Phase 1: i, f, g, c_t (and, unless o must wait, o_t and h_t).
      for_rows(B, 48 * H, [&](int64_t b) {
        scalar_t* a = a_data + (t * B + b) * 4 * H;
        const scalar_t* r = r_data + b * 4 * H;
        const scalar_t* cp = c_data + (t * B + b) * H;  // c_{t-1}
        scalar_t* cn = cn_data + b * H;
        for_columns<scalar_t>(H, [&](int64_t j, int64_t n) {
          const V c_prev = load(cp + j, n);
          V a_i = load(a + j, n) + load(r + j, n);  // A_t = W x_t + b + U h_{t-1}
          V a_f = load(a + H + j, n) + load(r + H + j, n);
          const V a_g = load(a + 2 * H + j, n) + load(r + 2 * H + j, n);
          if (diagonal) {  // A_{i,f} + p_{i,f} ⊙ c_{t-1}
            a_i = a_i + load(p_data + j, n) * c_prev;
            a_f = a_f + load(p_data + H + j, n) * c_prev;
          }
          const V i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g);
          const V c = f * c_prev + i * g;  // c_t = f ⊙ c_{t-1} + i ⊙ g
          i.store(a + j, n);
          f.store(a + H + j, n);
          g.store(a + 2 * H + j, n);
          c.store(cn + j, n);
          if (!split) {
            V a_o = load(a + 3 * H + j, n) + load(r + 3 * H + j, n);
            if (diagonal) a_o = a_o + load(p_data + 2 * H + j, n) * c;  // + p_o ⊙ c_t
            const V o = sigmoid(a_o);  // o_t = σ(A_o [+ p_o ⊙ c_t])
            o.store(a + 3 * H + j, n);
            finish_row(b, j, n, o, tanh(c));
          }
        });
        if (!split) carry_row(b);
      });

      if (split) {
        // o_t = σ(A_o + V_o c_t); h_t = o_t ⊙ tanh(LN_c(c_t)) with layer norm
        const Tensor vc = full ? (*V_o)(c_new).contiguous() : Tensor();
        const scalar_t* vc_data = full ? vc.data_ptr<scalar_t>() : nullptr;
        if (use_ln)
          layer_norm_rows(cn_data, c_ln.data_ptr<scalar_t>(), ln[4].data_ptr<scalar_t>(),
                          ln[5].data_ptr<scalar_t>(), mean_c.data_ptr<scalar_t>() + t * B,
                          rstd_c.data_ptr<scalar_t>() + t * B, B, H);
        const scalar_t* cl_data = use_ln ? c_ln.data_ptr<scalar_t>() : cn_data;
        for_rows(B, 20 * H, [&](int64_t b) {
          scalar_t* a = a_data + (t * B + b) * 4 * H + 3 * H;
          const scalar_t* r = r_data + b * 4 * H + 3 * H;
          for_columns<scalar_t>(H, [&](int64_t j, int64_t n) {
            V a_o = load(a + j, n) + load(r + j, n);
            if (full) a_o = a_o + load(vc_data + b * H + j, n);
            if (diagonal) a_o = a_o + load(p_data + 2 * H + j, n) * load(cn_data + b * H + j, n);
            const V o = sigmoid(a_o);
            o.store(a + j, n);
            finish_row(b, j, n, o, tanh(load(cl_data + b * H + j, n)));
          });
          carry_row(b);
        });
      }

      if (proj) {  // h_t = W_hr (o ⊙ tanh(c_t)), h_{t-1} carried where masked
        W_hr->into(unprojected[t], m_data ? h_buffer : hidden[t + 1]);
        if (m_data) {
          const scalar_t* hn = h_buffer.data_ptr<scalar_t>();
          for (int64_t b = 0; b < B; ++b) {
            const int64_t row = t * B + b;
            const scalar_t* src = m_data[row] ? hn + b * H_out : h_data + row * H_out;
            std::copy(src, src + H_out, h_data + (row + B) * H_out);
          }
        }
      }
    }
  });

  std::vector<Tensor> result{gates, cells, hidden, tanh_c};
  if (proj) result.push_back(unprojected);
  if (use_ln) {
    for (const Tensor& s : {recurrent, mean_hh, rstd_hh, c_pre, mean_c, rstd_c})
      ln_saved.push_back(s);
    result.insert(result.end(), ln_saved.begin(), ln_saved.end());
  }
  return result;
}

}  // namespace seqlab_lstm

TORCH_LIBRARY_FRAGMENT(seqlab, m) { m.def("lstm_forward", &seqlab_lstm::lstm_forward); }
