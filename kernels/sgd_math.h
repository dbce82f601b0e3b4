// The per-element SGD update, shared by the CPU and CUDA twins.
#pragma once

#include "wisp/core/macros.h"

namespace wisp::kernels {

// Updates one parameter element (and its momentum) in place; see kernels/sgd.h for the formula.
WISP_HOST_DEVICE inline void sgd_update_element(float& parameter, float gradient, float* momentum, float learning_rate,
                                                float momentum_factor, float dampening, float weight_decay,
                                                bool nesterov, bool first_step) {
  float direction = gradient + weight_decay * parameter;
  if (momentum != nullptr) {
    const float buffer = first_step ? direction : momentum_factor * *momentum + (1.0f - dampening) * direction;
    *momentum = buffer;
    direction = nesterov ? direction + momentum_factor * buffer : buffer;
  }
  parameter -= learning_rate * direction;
}

}  // namespace wisp::kernels
