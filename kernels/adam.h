// Dispatch point for the fused Adam/AdamW update (one pass over each parameter).
#pragma once

#include "wisp/core/tensor.h"

namespace wisp::kernels {

// The per-step constants of one parameter's update, computed in double by the optimizer from its
// hyperparameters and the parameter's own step count t (PyTorch's scalar arithmetic):
struct AdamStepConstants {
  double beta1 = 0.9, beta2 = 0.999;
  double l2_weight_decay = 0;        // Adam's weight decay, added to the gradient (0 for AdamW)
  double decay_factor = 1;           // AdamW's decoupled decay 1 − lr · weight_decay (1 for Adam)
  double step_size = 0;              // lr / (1 − beta1^t)
  double bias_correction2_sqrt = 1;  // sqrt(1 − beta2^t)
  double eps = 1e-8;
};

// PyTorch 1.13's Adam/AdamW step for one parameter, in place (every tensor float32, one shape, one
// device; max_exp_avg_sq undefined unless amsgrad):
//   param *= decay_factor
//   g = grad + l2_weight_decay · param
//   exp_avg = beta1 · exp_avg + (1 − beta1) · g
//   exp_avg_sq = beta2 · exp_avg_sq + (1 − beta2) · g²
//   v = exp_avg_sq, or with amsgrad max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq) and v = that
//   param −= step_size · exp_avg / (sqrt(v) / bias_correction2_sqrt + eps)
// (decay_factor and l2_weight_decay are never both in use: AdamW uses one, Adam the other.)
// bfloat16_copy: as sgd_step's (kernels/sgd.h).
void adam_step(const Tensor& parameter, const Tensor& gradient, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, const AdamStepConstants& constants,
               const Tensor& bfloat16_copy = Tensor());

}  // namespace wisp::kernels
