// CUDA twins of kernels/cpu/loss.h (softmax, log-softmax, cross-entropy, squared error), same signatures and
// contracts. A plain C++ header; compiled only when WISP_WITH_CUDA.
#pragma once

#include "wisp/core/tensor.h"

namespace wisp::kernels::cuda {

void log_softmax_forward(const Tensor& input, int64_t outer, int64_t size, int64_t inner, const Tensor& output);
void log_softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t outer, int64_t size, int64_t inner,
                          const Tensor& grad_input);
void softmax_forward(const Tensor& input, int64_t outer, int64_t size, int64_t inner, const Tensor& output);
void softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t outer, int64_t size, int64_t inner,
                      const Tensor& grad_input);
void cross_entropy_forward(const Tensor& logits, const Tensor& target, int64_t rows, int64_t classes,
                           const Tensor& loss, const Tensor& max_logit, const Tensor& log_sum);
void cross_entropy_backward(const Tensor& grad_output, const Tensor& logits, const Tensor& target,
                            const Tensor& max_logit, const Tensor& log_sum, double scale, int64_t rows, int64_t classes,
                            const Tensor& grad_logits);
void squared_error(const Tensor& input, const Tensor& target, const Tensor& output);
void squared_error_sum(const Tensor& input, const Tensor& target, double scale, const Tensor& output);
void squared_error_backward(const Tensor& grad_output, const Tensor& input, const Tensor& target, double scale,
                            const Tensor& grad_input, const Tensor& grad_target);

}  // namespace wisp::kernels::cuda
