// Dispatch points for softmax, log-softmax and the losses: each function checks devices once, allocates
// the outputs and calls the CPU twin (kernels/cpu/loss.h) or the CUDA twin (kernels/cuda/)
// with the same signature. Not recorded on the tape: ops/loss.cpp adds autograd and the
// user-facing argument checks. All values are float32; class indices Int64.
#pragma once

#include "wisp/core/tensor.h"

namespace wisp::kernels {

// ---- log_softmax over dimension `dim` (already normalised), the input viewed as [outer, size, inner]
Tensor log_softmax_forward(const Tensor& input, int64_t dim);
// grad_input = g − exp(output) · Σ_dim g.
Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t dim);
// ---- softmax over dimension `dim` (already normalised): exp(x − max) / Σ exp(x − max)
Tensor softmax_forward(const Tensor& input, int64_t dim);
// grad_input = output · (g − Σ_dim g · output).
Tensor softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t dim);

// ---- cross entropy of logits [N, C] against Int64 targets [N] ---------------------------------------
struct CrossEntropyForward {
  Tensor loss;       // [N]: log Σ_c exp(x_c) − x_target per row (not reduced)
  Tensor max_logit;  // [N]: the row maxima
  Tensor log_sum;    // [N]: log Σ_c exp(x_c − max_logit) per row
};
// Throws when a target is outside [0, C), naming the value, its position and the range.
CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& target);
// grad_logits[n, c] = (softmax[n, c] − (c == target[n])) · grad_output[n] · scale. grad_output is
// [N] (no reduction) or has one element (mean, sum: the same gradient for every row).
Tensor cross_entropy_backward(const Tensor& grad_output, const Tensor& logits, const Tensor& target,
                              const Tensor& max_logit, const Tensor& log_sum, double scale);

// ---- squared error, input and target of one shape ---------------------------------------------------
// (input − target)² elementwise.
Tensor squared_error(const Tensor& input, const Tensor& target);
// scale · Σ (input − target)², a float32 scalar (accumulated in double).
Tensor squared_error_sum(const Tensor& input, const Tensor& target, double scale);
struct SquaredErrorGradients {
  Tensor input;   // 2 (input − target) · grad_output · scale, or undefined when not requested
  Tensor target;  // −(the above), or undefined when not requested
};
// grad_output has input's shape (no reduction) or one element (mean, sum).
SquaredErrorGradients squared_error_backward(const Tensor& grad_output, const Tensor& input, const Tensor& target,
                                             double scale, bool need_input, bool need_target);

}  // namespace wisp::kernels
