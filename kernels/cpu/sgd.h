// CPU twin of the fused SGD update. parameter, gradient, momentum_buffer: float32 [n], contiguous.
#pragma once

#include "wisp/kernels/sgd.h"

namespace wisp::kernels::cpu {

void sgd_step(const Tensor& parameter, const Tensor& gradient, const Tensor& momentum_buffer,
              const SgdHyperparameters& hyperparameters, bool first_step, const Tensor& bfloat16_copy);

}  // namespace wisp::kernels::cpu
