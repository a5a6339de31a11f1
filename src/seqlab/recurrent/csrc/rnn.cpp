// The RNN time loops (forward and hand-derived backward), registered as torch.ops.seqlab.*.
//
// The equations are rnn.py's (its docstring has them in full):
//   A_{z_t} = W x_t + U z_{t-1} + b,   z_t = φ(A_{z_t}),   φ ∈ {tanh, relu, sigmoid, linear}
//   ∂E/∂A_{z_t} = δ_t ⊙ φ'(A_{z_t}),   δ_{t-1} = ∂E/∂y_{t-1} + (∂E/∂A_{z_t}) U
// Per step: one GEMM and one fused pass over (B, H). tanh is computed directly, so the state
// is z itself (the Python kernel's shift to s = (z + 1) / 2 is a trick for ATen's slow tanh).
#include "gru_rnn_common.h"

namespace seqlab {
namespace {

enum class Activation { Tanh, Relu, Sigmoid, Linear };

Activation parse_activation(const std::string& name) {
  if (name == "tanh") return Activation::Tanh;
  if (name == "relu") return Activation::Relu;
  if (name == "sigmoid") return Activation::Sigmoid;
  TORCH_CHECK(name == "linear", "rnn: unknown nonlinearity '", name, "'");
  return Activation::Linear;
}

// z = φ(a)
template <typename T>
inline Vectorized<T> activate(Activation act, const Vectorized<T>& a) {
  switch (act) {
    case Activation::Tanh:
      return tanh(a);
    case Activation::Relu:
      return at::vec::maximum(a, Vectorized<T>(T(0)));
    case Activation::Sigmoid:
      return sigmoid(a);
    default:
      return a;
  }
}

// φ'(A) from z = φ(A): 1 - z² (tanh), 1[z > 0] (relu), z (1 - z) (σ), 1 (linear)
template <typename T>
inline Vectorized<T> derivative(Activation act, const Vectorized<T>& z) {
  const Vectorized<T> one(T(1));
  switch (act) {
    case Activation::Tanh:
      return one - z * z;
    case Activation::Relu:
      return z.gt(Vectorized<T>(T(0)));
    case Activation::Sigmoid:
      return z * (one - z);
    default:
      return one;
  }
}

// Returns (out (T, B, H), states (T+1, B, H) with states[0] = h0), as rnn.rnn_forward.
std::tuple<at::Tensor, at::Tensor> rnn_forward(const at::Tensor& x, const at::Tensor& h0,
                                               const at::Tensor& w_ih, const at::Tensor& w_hh,
                                               const std::optional<at::Tensor>& b_ih,
                                               const std::optional<at::Tensor>& b_hh,
                                               const std::optional<at::Tensor>& mask,
                                               std::string nonlinearity, bool onednn) {
  const int64_t T = x.size(0), B = x.size(1), H = h0.size(1);
  const Activation act = parse_activation(nonlinearity);
  // W x_t + b for all steps: one GEMM, (T·B, H)
  at::Tensor xw = linear(x.reshape({T * B, -1}), w_ih, onednn);
  if (b_ih) xw.add_(*b_ih + *b_hh);
  at::Tensor states = at::empty({T + 1, B, H}, x.options());
  states[0].copy_(h0);
  StepProduct recurrent(h0, w_hh, onednn);  // U z_{t-1}
  const StepMask valid(mask, B);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rnn_forward", [&] {
    using Vec = Vectorized<scalar_t>;
    const scalar_t* xw_data = xw.data_ptr<scalar_t>();
    scalar_t* state_data = states.data_ptr<scalar_t>();
    for (int64_t t = 0; t < T; ++t) {
      const at::Tensor uz = recurrent(states[t]);  // (B, H): U z_{t-1}
      const scalar_t* uz_data = uz.data_ptr<scalar_t>();
      for_rows(B, 8 * H, [&](int64_t b) {
        const scalar_t* prev = state_data + (t * B + b) * H;
        scalar_t* next = state_data + ((t + 1) * B + b) * H;
        if (!valid.valid(t, b)) {  // a masked step keeps z_{t-1}
          std::copy(prev, prev + H, next);
          return;
        }
        const scalar_t* xw_row = xw_data + (t * B + b) * H;
        const scalar_t* uz_row = uz_data + b * H;
        for_columns<scalar_t>(H, [&](int64_t j, int64_t n) {
          // z_t = φ(A_{z_t}),  A_{z_t} = W x_t + b + U z_{t-1}
          const Vec a = Vec::loadu(xw_row + j, n) + Vec::loadu(uz_row + j, n);
          activate(act, a).store(next + j, n);
        });
      });
    }
  });
  at::Tensor out = states.narrow(0, 1, T);
  if (mask) out = out * *mask;
  return {out, states};
}

// The δ chain of rnn.rnn_backward: returns (dA (T, B, H) = ∂E/∂A_{z_t} for every step,
// dh0 = δ_0 ... the gradient that reaches z_0). d_out (T, B, H) and d_hT (B, H) contiguous.
std::tuple<at::Tensor, at::Tensor> rnn_backward(const at::Tensor& d_out, const at::Tensor& d_hT,
                                                const at::Tensor& w_hh, const at::Tensor& states,
                                                const std::optional<at::Tensor>& mask,
                                                std::string nonlinearity, bool onednn) {
  const int64_t T = d_out.size(0), B = d_out.size(1), H = d_out.size(2);
  const Activation act = parse_activation(nonlinearity);
  at::Tensor dA = at::empty_like(d_out);
  // δ_{T-1} = ∂E/∂y_{T-1} (a masked step's output is zero: no gradient) + ∂E/∂z_T
  at::Tensor delta = mask ? d_out[T - 1] * (*mask)[T - 1] : d_out[T - 1].clone();
  delta.add_(d_hT);
  StepProduct recurrent(delta, w_hh.t(), onednn);  // (∂E/∂A_{z_t}) U
  const StepMask valid(mask, B);
  AT_DISPATCH_FLOATING_TYPES(d_out.scalar_type(), "rnn_backward", [&] {
    using Vec = Vectorized<scalar_t>;
    const scalar_t* d_out_data = d_out.data_ptr<scalar_t>();
    const scalar_t* state_data = states.data_ptr<scalar_t>();
    scalar_t* dA_data = dA.data_ptr<scalar_t>();
    scalar_t* delta_data = delta.data_ptr<scalar_t>();
    for (int64_t t = T - 1; t >= 0; --t) {
      // z_t = φ(A_{z_t}):  ∂E/∂A_{z_t} = δ_t ⊙ φ'(A_{z_t}), zero where the step is masked
      for_rows(B, 4 * H, [&](int64_t b) {
        scalar_t* dA_row = dA_data + (t * B + b) * H;
        if (!valid.valid(t, b)) {
          std::fill(dA_row, dA_row + H, scalar_t(0));
          return;
        }
        const scalar_t* z = state_data + ((t + 1) * B + b) * H;
        const scalar_t* delta_row = delta_data + b * H;
        for_columns<scalar_t>(H, [&](int64_t j, int64_t n) {
          (Vec::loadu(delta_row + j, n) * derivative(act, Vec::loadu(z + j, n)))
              .store(dA_row + j, n);
        });
      });
      const at::Tensor dA_U = recurrent(dA[t]);  // (B, H)
      const scalar_t* dA_U_data = dA_U.data_ptr<scalar_t>();
      // A_{z_t} = W x_t + U z_{t-1} + b:  δ_{t-1} = ∂E/∂y_{t-1} + (∂E/∂A_{z_t}) U, and a
      // masked step t passes δ_t through to z_{t-1} unchanged
      for_rows(B, 2 * H, [&](int64_t b) {
        scalar_t* delta_row = delta_data + b * H;
        const scalar_t* dA_U_row = dA_U_data + b * H;
        const bool carry = !valid.valid(t, b);
        const bool output = t > 0 && valid.valid(t - 1, b);
        const scalar_t* d_out_row = output ? d_out_data + ((t - 1) * B + b) * H : nullptr;
        for_columns<scalar_t>(H, [&](int64_t j, int64_t n) {
          Vec d = Vec::loadu(dA_U_row + j, n);
          if (carry) d = d + Vec::loadu(delta_row + j, n);
          if (output) d = d + Vec::loadu(d_out_row + j, n);
          d.store(delta_row + j, n);
        });
      });
    }
  });
  return {dA, delta};
}

}  // namespace
}  // namespace seqlab

TORCH_LIBRARY_FRAGMENT(seqlab, m) {
  m.def("rnn_forward", &seqlab::rnn_forward);
  m.def("rnn_backward", &seqlab::rnn_backward);
}
