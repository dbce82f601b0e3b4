// CPU kernels for softmax, log-softmax and the losses. All tensors row-major and contiguous; outputs are
// allocated by the dispatch point (kernels/loss.h); the CUDA twins have the same signatures.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"

namespace wisp::kernels::cpu {

// input, output: [outer, size, inner]; output = log_softmax over `size`.
void log_softmax_forward(const Tensor& input, int64_t outer, int64_t size, int64_t inner, const Tensor& output);
// grad_output, output, grad_input: [outer, size, inner]; grad_input = g − exp(output) · Σ_size g.
void log_softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t outer, int64_t size, int64_t inner,
                          const Tensor& grad_input);
// input, output: [outer, size, inner]; output = softmax over `size` (exp(x − max) / Σ exp(x − max)).
void softmax_forward(const Tensor& input, int64_t outer, int64_t size, int64_t inner, const Tensor& output);
// grad_output, output, grad_input: [outer, size, inner]; grad_input = output · (g − Σ_size g · output).
void softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t outer, int64_t size, int64_t inner,
                      const Tensor& grad_input);

// logits: [rows, classes]; target: [rows] Int64; loss, max_logit, log_sum: [rows].
// loss = max_logit + log_sum − logits[target]. Throws (before writing anything) when a target is
// outside [0, classes).
void cross_entropy_forward(const Tensor& logits, const Tensor& target, int64_t rows, int64_t classes,
                           const Tensor& loss, const Tensor& max_logit, const Tensor& log_sum);
// logits, grad_logits: [rows, classes]; target, max_logit, log_sum: [rows]; grad_output: [rows] or
// one element shared by all rows; grad_logits = (softmax − onehot) · grad_output · scale.
void cross_entropy_backward(const Tensor& grad_output, const Tensor& logits, const Tensor& target,
                            const Tensor& max_logit, const Tensor& log_sum, double scale, int64_t rows, int64_t classes,
                            const Tensor& grad_logits);

// input, target, output: n elements (any shape, flat); output = (input − target)².
void squared_error(const Tensor& input, const Tensor& target, const Tensor& output);
// input, target: n elements; output: one element = scale · Σ (input − target)² (double accumulation;
// fixed static partition, so results repeat for a fixed thread count).
void squared_error_sum(const Tensor& input, const Tensor& target, double scale, const Tensor& output);
// input, target, grad_input, grad_target: n elements; grad_output: n elements or one shared;
// grad_input = 2 (input − target) · grad_output · scale, grad_target = −grad_input (either may be
// undefined: not computed).
void squared_error_backward(const Tensor& grad_output, const Tensor& input, const Tensor& target, double scale,
                            const Tensor& grad_input, const Tensor& grad_target);

}  // namespace wisp::kernels::cpu
