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

#include <cmath>

#include "vec.h"

namespace seqlab_lstm {

using namespace seqlab;  // vec.h

using at::Tensor;
using OptTensor = std::optional<Tensor>;

// ---- masks and the per-step layer norm (σ, tanh, the column and row loops: vec.h) ---------

inline const bool* mask_data(const OptTensor& mask) {
  return mask.has_value() ? mask->data_ptr<bool>() : nullptr;
}

// The sum of a vector's lanes.
template <typename T>
inline T lane_sum(const Vec<T>& v) {
  __at_align__ T lanes[Vec<T>::size()];
  v.store(lanes);
  T sum = 0;
  for (int64_t k = 0; k < Vec<T>::size(); ++k) sum += lanes[k];
  return sum;
}

// The per-step layer norm of B rows of N (as pointwise.py's layer_norm, eps 1e-5), one pass of
// its own per row instead of ATen's op, an allocation and two copies per step:
// y = (x - μ) ρ ⊙ gain + shift with μ the row's mean, ρ = 1/√(var + eps) (biased variance),
// μ and ρ into mean[b] and rstd[b] for the backward (ATen's native_layer_norm_backward).
template <typename T>
void layer_norm_rows(const T* x, T* y, const T* gain, const T* shift, T* mean, T* rstd,
                     int64_t B, int64_t N) {
  using V = Vec<T>;
  for_rows(B, 8 * N, [&](int64_t b) {
    const T* xr = x + b * N;
    T* yr = y + b * N;
    V sum(0);  // a short row's tail loads as zeros
    for_columns<T>(N, [&](int64_t j, int64_t n) { sum = sum + load(xr + j, n); });
    const T mu = lane_sum(sum) / T(N);
    V squares(0);  // Σ (x - μ)², two passes as ATen's, the tail's lanes kept at zero
    for_columns<T>(N, [&](int64_t j, int64_t n) {
      const V d = V::set(V(0), load(xr + j, n) - V(mu), n);
      squares = squares + d * d;
    });
    const T rho = T(1) / std::sqrt(lane_sum(squares) / T(N) + T(1e-5));
    mean[b] = mu;
    rstd[b] = rho;
    for_columns<T>(N, [&](int64_t j, int64_t n) {
      const V normalised = (load(xr + j, n) - V(mu)) * V(rho);
      (normalised * load(gain + j, n) + load(shift + j, n)).store(yr + j, n);
    });
  });
}

}  // namespace seqlab_lstm
