// What the LSTM's compiled time loops share (lstm.cpp: forward; lstm_backward.cpp: backward).
#pragma once
//
// The same equations as src/seqlab/recurrent/lstm.py (its lstm_forward / lstm_backward are
// the specification; seqlab.recurrent.lstm_compiled calls these and hands back the same
// tensors). Per step: the recurrent product through ATen's GEMM (oneDNN for large float32
// products, as gemm.py), then the gates' pointwise math in one vectorised pass over the
// step's (B, H), threaded over batch rows. Variants that need a product or a layer norm in
// the middle of a step (peephole "full", layer_norm, proj_size) split that pass in two around
// it. Shapes: x (T, B, I), states (B, H) and h (B, H_out), gates stacked i, f, g, o.

#include "vec.h"

namespace seqlab_lstm {

using namespace seqlab;  // vec.h

using at::Tensor;
using OptTensor = std::optional<Tensor>;

// ---- the recurrent product ------------------------------------------------------------------

// `a @ w.T` for the per-step shapes, a (M, K) and w (N, K): through oneDNN where vec.h's
// use_onednn says so (with w packed once when it serves every step), else ATen's mm into
// `buffer`.
struct Linear {
  Tensor w, w_t, packed;
  bool onednn;
  Linear(const Tensor& w_, int64_t M, bool onednn_allowed, bool per_step = true)
      : w(w_.contiguous()), w_t(w.t()), onednn(use_onednn(onednn_allowed, M, w)) {
    if (onednn) packed = per_step ? onednn_pack(w, M) : w;
  }
  // Returns a @ wᵀ, in `buffer` unless oneDNN gives a tensor of its own.
  Tensor operator()(const Tensor& a, Tensor& buffer) const {
    if (onednn) return onednn_linear(a, packed);
    at::mm_out(buffer, a, w_t);
    return buffer;
  }
};

// ---- masks and the per-step layer norm (σ, tanh, the column and row loops: vec.h) ---------

inline const bool* mask_data(const OptTensor& mask) {
  return mask.has_value() ? mask->data_ptr<bool>() : nullptr;
}

// The per-step layer norm (as pointwise.py's layer_norm): y, and mean and rstd into the
// step's slices of the saved (T, B, 1) buffers.
inline Tensor layer_norm_step(const Tensor& input, const Tensor& gain, const Tensor& shift,
                       const Tensor& mean_t, const Tensor& rstd_t) {
  auto [y, mean, rstd] =
      at::native_layer_norm(input, {input.size(-1)}, gain, shift, 1e-5);
  mean_t.copy_(mean.view_as(mean_t));
  rstd_t.copy_(rstd.view_as(rstd_t));
  return y;
}

}  // namespace seqlab_lstm
