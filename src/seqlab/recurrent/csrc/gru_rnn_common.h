// What gru.cpp and rnn.cpp share beyond vec.h: the per-step product h Uᵀ through ATen's GEMM
// (or oneDNN, as seqlab.recurrent.gemm chooses) into a preallocated buffer, and the mask.
#pragma once
#include "vec.h"

namespace seqlab {

using at::vec::Vectorized;

inline bool use_onednn(bool allowed, const at::Tensor& a, const at::Tensor& w) {
  return use_onednn(allowed, a.size(0), w);
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
    if (onednn_) w_ = onednn_pack(w_, like.size(0));  // packed once for every step
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
