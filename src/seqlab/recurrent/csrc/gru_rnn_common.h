// What gru.cpp and rnn.cpp share: vectorised σ and tanh, the per-step product h Uᵀ through
// ATen's GEMM (or oneDNN, as seqlab.recurrent.gemm chooses), and a row-parallel loop.
#pragma once
// ATen's Vectorized<T> takes its AVX-512 or AVX2 form (with Sleef's exp, exported by
// libtorch_cpu) only where CPU_CAPABILITY says so; torch's own kernels get it from per-file
// flags. Each source file is a translation unit of its own, so the choice stays inside gru.cpp
// and rnn.cpp; the inline namespace is our own, so no template instantiated here shares a name
// with libtorch's (lstm.h does the same).
#if !defined(CPU_CAPABILITY) && defined(__AVX512F__) && defined(__AVX512BW__) && \
    defined(__AVX512VL__) && defined(__AVX512DQ__)
#define CPU_CAPABILITY seqlab_grurnn_avx512
#define CPU_CAPABILITY_AVX512
#elif !defined(CPU_CAPABILITY) && defined(__AVX2__) && defined(__FMA__)
#define CPU_CAPABILITY seqlab_grurnn_avx2
#define CPU_CAPABILITY_AVX2
#endif
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <string>

#include "kernels.h"

namespace seqlab {

using at::vec::Vectorized;

template <typename T>
inline Vectorized<T> sigmoid(const Vectorized<T>& a) {
  const Vectorized<T> one(T(1));
  return one / (one + a.neg().exp());  // σ(a) = 1 / (1 + e^{-a})
}

// tanh(a) = 1 - 2 / (e^{2a} + 1): one exp and one division, a third of Sleef's tanh here; it
// loses nothing that matters (a few float32 ulps near 0, as the Python kernels' 2σ(2a) - 1).
template <typename T>
inline Vectorized<T> tanh(const Vectorized<T>& a) {
  const Vectorized<T> one(T(1));
  return one - Vectorized<T>(T(2)) / ((a + a).exp() + one);
}

// f(j, n) over [0, H) in vectors of Vectorized<T>::size() lanes, then the n < size() tail.
template <typename T, typename F>
inline void over_units(int64_t H, const F& f) {
  constexpr int64_t lanes = Vectorized<T>::size();
  int64_t j = 0;
  for (; j + lanes <= H; j += lanes) f(j, lanes);
  if (j < H) f(j, H - j);
}

// Runs f(b) for every batch row b in [0, B), rows split across torch's threads only when a
// thread gets at least kGrain element-operations: a small step stays on one thread.
constexpr int64_t kGrain = 16384;

template <typename F>
inline void for_each_row(int64_t B, int64_t work_per_row, const F& f) {
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, work_per_row));
  at::parallel_for(0, B, grain, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) f(b);
  });
}

// Below this many multiply-adds oneDNN's fixed cost loses to MKL's gemm (gemm.py's
// ONEDNN_MIN_WORK: the same measured crossover).
constexpr int64_t kOneDnnMinWork = 4000000;

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

inline bool use_onednn(bool allowed, const at::Tensor& a, const at::Tensor& w) {
  return allowed && a.scalar_type() == at::kFloat && a.size(0) * a.size(1) * w.size(0) >= kOneDnnMinWork;
}

// a @ wᵀ as a new tensor (the products before and after the time loop).
inline at::Tensor linear(const at::Tensor& a, const at::Tensor& w, bool onednn) {
  return use_onednn(onednn, a, w) ? onednn_linear(a, w) : at::mm(a, w.t());
}

// The per-step product a @ wᵀ for a loop over steps shaped like `like`: the path is chosen
// once, and the MKL path writes into one preallocated (M, N) buffer. With `fresh`, every
// step gets a new tensor (the layer norm saves each step's projection for the backward).
class StepProduct {
 public:
  StepProduct(const at::Tensor& like, const at::Tensor& w, bool onednn, bool fresh = false)
      : w_(w.contiguous()), w_t_(w_.t()), onednn_(use_onednn(onednn, like, w_)), fresh_(fresh) {
    if (!onednn_ && !fresh_) buffer_ = at::empty({like.size(0), w_.size(0)}, like.options());
  }
  at::Tensor operator()(const at::Tensor& a) {
    if (onednn_) return onednn_linear(a, w_);
    if (fresh_) return at::mm(a, w_t_);
    at::mm_out(buffer_, a, w_t_);
    return buffer_;
  }

 private:
  at::Tensor w_, w_t_, buffer_;
  bool onednn_, fresh_;
};

// A (T, B) view of an optional (T, B, 1) bool mask: valid(t, b) is true without a mask.
class StepMask {
 public:
  explicit StepMask(const std::optional<at::Tensor>& mask, int64_t B)
      : B_(B), data_(mask ? mask->contiguous() : at::Tensor()) {
    if (data_.defined()) ptr_ = data_.data_ptr<bool>();
  }
  bool any() const { return ptr_ != nullptr; }
  bool valid(int64_t t, int64_t b) const { return ptr_ == nullptr || ptr_[t * B_ + b]; }

 private:
  int64_t B_;
  at::Tensor data_;
  const bool* ptr_ = nullptr;
};

}  // namespace seqlab
