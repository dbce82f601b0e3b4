// CUDA twin of kernels/cpu/sgd.h, same signature and contract. A plain C++ header; compiled only
// when WISP_WITH_CUDA.
#pragma once

#include "wisp/core/tensor.h"
#include "wisp/kernels/sgd.h"

namespace wisp::kernels::cuda {

void sgd_step(const Tensor& parameter, const Tensor& gradient, const Tensor& momentum_buffer,
              const SgdHyperparameters& hyperparameters, bool first_step, const Tensor& bfloat16_copy);

}  // namespace wisp::kernels::cuda
