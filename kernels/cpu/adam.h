// CPU twin of the fused Adam/AdamW update. Every tensor float32 [n], contiguous; max_exp_avg_sq
// undefined unless amsgrad.
#pragma once

#include "wisp/kernels/adam.h"

namespace wisp::kernels::cpu {

void adam_step(const Tensor& parameter, const Tensor& gradient, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, const AdamStepConstants& constants, const Tensor& bfloat16_copy);

}  // namespace wisp::kernels::cpu
