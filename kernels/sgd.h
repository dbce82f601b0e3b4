// Dispatch point for the fused SGD update (one pass over each parameter).
#pragma once

#include "wisp/core/tensor.h"

namespace wisp::kernels {

struct SgdHyperparameters {
  double learning_rate = 0;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

// PyTorch's SGD step for one parameter, in place (parameter, gradient, momentum_buffer: float32,
// one shape, one device):
//   d = grad + weight_decay · param
//   buffer = d (first step) or momentum · buffer + (1 − dampening) · d      [when momentum ≠ 0]
//   d = d + momentum · buffer (Nesterov) or buffer                           [when momentum ≠ 0]
//   param −= learning_rate · d
// momentum_buffer is ignored (may be undefined) when momentum is 0. bfloat16_copy, when defined
// (BFloat16, the parameter's shape and device), receives the updated parameter rounded to bfloat16
// in the same pass: the copy a reduced-precision SparseLinear reads, kept fresh without another sweep.
void sgd_step(const Tensor& parameter, const Tensor& gradient, const Tensor& momentum_buffer,
              const SgdHyperparameters& hyperparameters, bool first_step, const Tensor& bfloat16_copy = Tensor());

}  // namespace wisp::kernels
