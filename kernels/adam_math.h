// The per-element Adam/AdamW update, shared by the CPU and CUDA twins.
#pragma once

#include <math.h>

#include "wisp/core/macros.h"
#include "wisp/kernels/adam.h"

namespace wisp::kernels {

// AdamStepConstants (kernels/adam.h) as floats, the precision PyTorch applies them in.
struct AdamElementConstants {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, l2_weight_decay, decay_factor, step_size, bias_correction2_sqrt,
      eps;
};

// Host side: the double constants rounded to float once per step.
inline AdamElementConstants adam_element_constants(const AdamStepConstants& c) {
  return {static_cast<float>(c.beta1),
          static_cast<float>(1 - c.beta1),
          static_cast<float>(c.beta2),
          static_cast<float>(1 - c.beta2),
          static_cast<float>(c.l2_weight_decay),
          static_cast<float>(c.decay_factor),
          static_cast<float>(c.step_size),
          static_cast<float>(c.bias_correction2_sqrt),
          static_cast<float>(c.eps)};
}

// Updates one parameter element and its moments in place; see kernels/adam.h for the formula.
// max_exp_avg_sq is null unless amsgrad.
WISP_HOST_DEVICE inline void adam_update_element(float& parameter, float gradient, float& exp_avg, float& exp_avg_sq,
                                                 float* max_exp_avg_sq, const AdamElementConstants& c) {
  parameter *= c.decay_factor;
  const float g = gradient + c.l2_weight_decay * parameter;
  exp_avg = exp_avg * c.beta1 + c.one_minus_beta1 * g;
  exp_avg_sq = exp_avg_sq * c.beta2 + c.one_minus_beta2 * g * g;
  float second_moment = exp_avg_sq;
  if (max_exp_avg_sq != nullptr) {
    // NaN propagates as torch.maximum's does.
    const float previous = *max_exp_avg_sq;
    second_moment = (previous > exp_avg_sq || previous != previous) ? previous : exp_avg_sq;
    *max_exp_avg_sq = second_moment;
  }
  const float denominator = sqrtf(second_moment) / c.bias_correction2_sqrt + c.eps;
  parameter -= c.step_size * (exp_avg / denominator);
}

}  // namespace wisp::kernels
