// What gru.cpp and rnn.cpp share beyond vec.h: the mask.
#pragma once
#include "vec.h"

namespace seqlab {

using at::vec::Vectorized;

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
