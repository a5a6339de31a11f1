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

// at::vec::Vectorized picks its instruction set from CPU_CAPABILITY_*; torch's own build sets
// them per dispatch target. The extension is built with -march=native, so take what the
// compiler targets, in a namespace of our own (so no other file's Vectorized collides).
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define CPU_CAPABILITY_AVX512
#define CPU_CAPABILITY seqlab_lstm_avx512
#elif defined(__AVX2__) && defined(__FMA__)
#define CPU_CAPABILITY_AVX2
#define CPU_CAPABILITY seqlab_lstm_avx2
#else
#define CPU_CAPABILITY seqlab_lstm_default
#endif
#include "kernels.h"

#include <ATen/cpu/vec/vec.h>
#include <ATen/core/dispatch/Dispatcher.h>

namespace seqlab_lstm {

using at::Tensor;
using OptTensor = std::optional<Tensor>;

// ---- the recurrent product ------------------------------------------------------------------

// oneDNN's `a @ w.T` (torch.ops.mkldnn._linear_pointwise, what gemm.py calls).
inline Tensor onednn_linear(const Tensor& a, const Tensor& w) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("mkldnn::_linear_pointwise", "")
                       .typed<Tensor(const Tensor&, const Tensor&, const OptTensor&,
                                     std::string_view, c10::List<std::optional<at::Scalar>>,
                                     std::optional<std::string_view>)>();
  return op.call(a, w, std::nullopt, "none", c10::List<std::optional<at::Scalar>>(), "");
}

// `a @ w.T` for the per-step shapes, a (M, K) and w (N, K): through oneDNN where the product
// is large float32 work (min_work >= 0 and M·K·N past it), else ATen's mm into `buffer`.
struct Linear {
  Tensor w, w_t;
  bool onednn;
  Linear(const Tensor& w_, int64_t M, int64_t min_work)
      : w(w_.contiguous()), w_t(w_.t()) {
    onednn = min_work >= 0 && w.scalar_type() == at::kFloat &&
             M * w.size(0) * w.size(1) >= min_work;
  }
  // Returns a @ wᵀ, in `buffer` unless oneDNN gives a tensor of its own.
  Tensor operator()(const Tensor& a, Tensor& buffer) const {
    if (onednn) return onednn_linear(a, w);
    at::mm_out(buffer, a, w_t);
    return buffer;
  }
};

// ---- vectorised helpers ---------------------------------------------------------------------

template <typename T>
using Vec = at::vec::Vectorized<T>;

// σ(a) = 1 / (1 + e^{-a}), with ATen's fast exp (2 ulp in float32; Sleef's in float64)
template <typename T>
inline Vec<T> sigmoid(const Vec<T>& a) {
  return Vec<T>(T(1)) / (Vec<T>(T(1)) + a.neg().exp_u20());
}

// tanh(a) = 2σ(2a) - 1 (as pointwise.py): one exp and a division, half of Sleef's tanh
template <typename T>
inline Vec<T> tanh(const Vec<T>& a) {
  return Vec<T>(T(2)) * sigmoid(a + a) - Vec<T>(T(1));
}

// f(j, n) for column blocks j, j+V, ... of a row of H (n = elements in the block).
template <typename T, typename F>
inline void for_columns(int64_t H, const F& f) {
  constexpr int64_t V = Vec<T>::size();
  int64_t j = 0;
  for (; j + V <= H; j += V) f(j, V);
  if (j < H) f(j, H - j);
}

template <typename T>
inline Vec<T> load(const T* p, int64_t n) {
  return n == Vec<T>::size() ? Vec<T>::loadu(p) : Vec<T>::loadu(p, n);
}

// Rows [0, B) of a step in chunks across threads; a small step stays on one thread.
template <typename F>
inline void for_rows(int64_t B, int64_t H, const F& f) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(H, 1));
  at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) f(b);
  });
}

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
