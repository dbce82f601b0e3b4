// CUDA twin of kernels/cpu/adam.h, same signature and contract. A plain C++ header; compiled only
// when WISP_WITH_CUDA.
#pragma once

#include "wisp/core/tensor.h"
#include "wisp/kernels/adam.h"

namespace wisp::kernels::cuda {

void adam_step(const Tensor& parameter, const Tensor& gradient, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, const AdamStepConstants& constants, const Tensor& bfloat16_copy);

}  // namespace wisp::kernels::cuda
