// Per-element arithmetic of layer normalisation, shared by the CPU and CUDA kernels (DESIGN.md §5).
//
// Notation for one row of `features` values x: mean μ, inverse standard deviation
// rstd = 1 / sqrt(var + eps) (biased variance), normalised value x̂ = (x − μ)·rstd, output
// y = x̂·w + b. With ĝ = g·w (the gradient reaching x̂), the gradient of the input is
//   dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ·x̂)).
#pragma once

#include <cmath>

#include "wisp/core/macros.h"

namespace wisp::kernels {

// rstd from the biased variance of a row; computed in double, stored as float.
WISP_HOST_DEVICE inline float layer_norm_rstd(double variance, double eps) {
  return static_cast<float>(1.0 / sqrt(variance + eps));
}

WISP_HOST_DEVICE inline float layer_norm_normalized(float x, float mean, float rstd) { return (x - mean) * rstd; }

WISP_HOST_DEVICE inline float layer_norm_output(float x, float mean, float rstd, float weight, float bias) {
  return layer_norm_normalized(x, mean, rstd) * weight + bias;
}

// dx for one element: `grad_normalized` = g·w, `normalized` = x̂, and the two row means
// mean(ĝ) and mean(ĝ·x̂).
WISP_HOST_DEVICE inline float layer_norm_grad_input(float grad_normalized, float normalized, float rstd,
                                                    float mean_grad_normalized, float mean_grad_dot_normalized) {
  return rstd * (grad_normalized - mean_grad_normalized - normalized * mean_grad_dot_normalized);
}

}  // namespace wisp::kernels
