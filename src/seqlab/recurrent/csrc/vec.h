// What every family's compiled loops share: the vector instruction set, σ and tanh on vectors,
// the loops over a step's columns and rows, and the products a @ wᵀ (MKL's or oneDNN's).
#pragma once
// ATen's Vectorized<T> takes its AVX-512 or AVX2 form (with Sleef's exp, exported by
// libtorch_cpu) only where CPU_CAPABILITY says so; torch's own kernels get it from per-file
// flags. The extension is built with -march=native, so it takes what the compiler targets,
// in an inline namespace of seqlab's own: no template instantiated here shares a mangled name
// with libtorch's.
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512DQ__)
#define CPU_CAPABILITY seqlab_avx512
#define CPU_CAPABILITY_AVX512
#elif defined(__AVX2__) && defined(__FMA__)
#define CPU_CAPABILITY seqlab_avx2
#define CPU_CAPABILITY_AVX2
#else
#define CPU_CAPABILITY seqlab_default
#endif
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <string>

#include "kernels.h"

namespace seqlab {

template <typename T>
using Vec = at::vec::Vectorized<T>;

// σ(a) = 1 / (1 + e^{-a}), with ATen's fast exp (2 ulp in float32; Sleef's in float64)
template <typename T>
inline Vec<T> sigmoid(const Vec<T>& a) {
  return Vec<T>(T(1)) / (Vec<T>(T(1)) + a.neg().exp_u20());
}

// tanh(a) = 2σ(2a) - 1 (as pointwise.py): one exp and a division, half of Sleef's tanh here;
// it costs a few float32 ulps near 0, as the Python kernels' identity does.
template <typename T>
inline Vec<T> tanh(const Vec<T>& a) {
  return Vec<T>(T(2)) * sigmoid(a + a) - Vec<T>(T(1));
}

// f(j, n) for the column blocks j, j+V, ... of a row of H (n = elements in the block).
template <typename T, typename F>
inline void for_columns(int64_t H, const F& f) {
  constexpr int64_t V = Vec<T>::size();
  int64_t j = 0;
  for (; j + V <= H; j += V) f(j, V);
  if (j < H) f(j, H - j);
}

// n elements from p: a whole vector, or the tail of a row.
template <typename T>
inline Vec<T> load(const T* p, int64_t n) {
  return n == Vec<T>::size() ? Vec<T>::loadu(p) : Vec<T>::loadu(p, n);
}

// f(b) for every batch row b in [0, B), rows split across torch's threads only when a thread
// gets at least kGrain element-operations (work_per_row each): a small step stays on one
// thread, where waking the other costs more than it saves.
constexpr int64_t kGrain = 16384;

template <typename F>
inline void for_rows(int64_t B, int64_t work_per_row, const F& f) {
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, work_per_row));
  at::parallel_for(0, B, grain, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) f(b);
  });
}

// Below this many multiply-adds oneDNN's fixed cost loses to MKL's gemm (gemm.py's
// ONEDNN_MIN_WORK: the same measured crossover).
constexpr int64_t kOneDnnMinWork = 4000000;

// Whether a @ wᵀ with a of M rows goes through oneDNN: where it is allowed (found and agreeing
// with mm, gemm.py's probe) and the product is large float32 work.
inline bool use_onednn(bool allowed, int64_t M, const at::Tensor& w) {
  return allowed && w.scalar_type() == at::kFloat && M * w.size(0) * w.size(1) >= kOneDnnMinWork;
}

// a @ wᵀ for a (M, K) and a dense w (N, K) through oneDNN's linear (torch's internal op, the
// one torch.nn.LSTM's CPU kernel and seqlab.recurrent.gemm use).
inline at::Tensor onednn_linear(const at::Tensor& a, const at::Tensor& w) {
  static const auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_linear_pointwise", "");
  std::vector<c10::IValue> stack{a, w, c10::IValue(), std::string("none"),
                                 c10::List<std::optional<at::Scalar>>(), std::string("")};
  op.callBoxed(&stack);
  return stack[0].toTensor();
}

// w (N, K) reordered once into oneDNN's blocked layout for products of M rows: given to
// onednn_linear in its place, it spares every step the reorder a plain weight costs on each
// call (torch's fused LSTM keeps its weights packed the same way).
inline at::Tensor onednn_pack(const at::Tensor& w, int64_t M) {
  static const auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_reorder_linear_weight", "");
  std::vector<c10::IValue> stack{w.contiguous(), c10::IValue(M)};
  op.callBoxed(&stack);
  return stack[0].toTensor();
}

inline bool use_onednn(bool allowed, const at::Tensor& a, const at::Tensor& w) {
  return use_onednn(allowed, a.size(0), w);
}

// a @ wᵀ as a new tensor (the products before and after the time loop).
inline at::Tensor linear(const at::Tensor& a, const at::Tensor& w, bool onednn) {
  return use_onednn(onednn, a, w) ? onednn_linear(a, w) : at::mm(a, w.t());
}

// The per-step product a @ wᵀ for a loop over steps shaped like `like`: the path is chosen
// once (oneDNN with w packed once for every step, or MKL), and the MKL path writes into one
// (M, N) buffer, made at its first use. With `fresh`, every step gets a new tensor (the GRU's
// layer norm saves each step's projection for the backward).
class StepProduct {
 public:
  StepProduct(const at::Tensor& like, const at::Tensor& w, bool onednn, bool fresh = false)
      : w_(w.contiguous()), w_t_(w_.t()), onednn_(use_onednn(onednn, like, w_)), fresh_(fresh),
        rows_(like.size(0)) {
    if (onednn_) w_ = onednn_pack(w_, rows_);
  }
  bool onednn() const { return onednn_; }
  at::Tensor operator()(const at::Tensor& a) {
    if (onednn_) return onednn_linear(a, w_);
    if (fresh_) return at::mm(a, w_t_);
    if (!buffer_.defined()) buffer_ = at::empty({rows_, w_t_.size(1)}, a.options());
    at::mm_out(buffer_, a, w_t_);
    return buffer_;
  }
  // a @ wᵀ written into `out` (a saved tensor's step, say), whichever path computes it.
  void into(const at::Tensor& a, at::Tensor out) {
    if (onednn_) out.copy_(onednn_linear(a, w_));
    else at::mm_out(out, a, w_t_);
  }

 private:
  at::Tensor w_, w_t_, buffer_;
  bool onednn_, fresh_;
  int64_t rows_;
};

}  // namespace seqlab
