// Per-element arithmetic of softmax, log-softmax and the losses, shared by the CPU and CUDA kernels
// (DESIGN.md §5).
//
// A softmax row x is summarised by its maximum m and log_sum = log Σ exp(x − m); then
// log_softmax(x) = (x − m) − log_sum. Subtracting m first keeps exp from overflowing and keeps
// (x − m) exact when the logits are large.
#pragma once

#include <cmath>

#include "wisp/core/macros.h"

namespace wisp::kernels {

WISP_HOST_DEVICE inline float log_softmax_element(float x, float max, float log_sum) { return (x - max) - log_sum; }

// d log_softmax: g − softmax · Σ g, with softmax = exp(output).
WISP_HOST_DEVICE inline float log_softmax_grad_element(float grad_output, float output, float sum_grad_output) {
  return grad_output - expf(output) * sum_grad_output;
}

// softmax(x) = exp(x − m) / sum with sum = Σ exp(x − m): the same row summary as log-softmax.
WISP_HOST_DEVICE inline float softmax_element(float x, float max, float sum) { return expf(x - max) / sum; }

// d softmax: y · (g − Σ g·y), with y = softmax(x).
WISP_HOST_DEVICE inline float softmax_grad_element(float grad_output, float output, float dot) {
  return output * (grad_output - dot);
}

// d cross_entropy / d logit = (softmax − onehot) · g, where g is the (already scaled) gradient of
// this row's loss.
WISP_HOST_DEVICE inline float cross_entropy_grad_element(float logit, float max, float log_sum, bool is_target,
                                                         float row_grad) {
  return (expf(log_softmax_element(logit, max, log_sum)) - (is_target ? 1.0f : 0.0f)) * row_grad;
}

WISP_HOST_DEVICE inline float squared_error(float input, float target) {
  const float difference = input - target;
  return difference * difference;
}

// d (input − target)² / d input = 2 (input − target), times the (already scaled) gradient.
WISP_HOST_DEVICE inline float squared_error_grad(float input, float target, float grad) {
  return 2.0f * (input - target) * grad;
}

}  // namespace wisp::kernels
