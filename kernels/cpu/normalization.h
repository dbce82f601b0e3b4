// CPU layer-normalisation kernels. Layout: x, y, grad_output, grad_input: [rows, features]
// row-major and contiguous; mean, rstd: [rows]; weight, bias, grad_weight, grad_bias: [features].
// Outputs are allocated by the dispatch point (kernels/normalization.h); the CUDA twins have the
// same signatures.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"

namespace wisp::kernels::cpu {

// output = (input − mean) · rstd · weight + bias per row, and the row statistics mean and rstd.
// weight and bias may be undefined (1 and 0). Statistics are accumulated in double, two-pass.
void layer_norm_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, double eps, int64_t rows,
                        int64_t features, const Tensor& output, const Tensor& mean, const Tensor& rstd);

// grad_input (undefined: not computed) = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ·x̂)) with ĝ = g·weight;
// grad_weight = Σ_rows g·x̂ and grad_bias = Σ_rows g (each undefined: not computed).
// weight may be undefined (1). Row sums are combined from per-thread partials in thread order,
// so results repeat for a fixed thread count.
void layer_norm_backward(const Tensor& grad_output, const Tensor& input, const Tensor& mean, const Tensor& rstd,
                         const Tensor& weight, int64_t rows, int64_t features, const Tensor& grad_input,
                         const Tensor& grad_weight, const Tensor& grad_bias);

}  // namespace wisp::kernels::cpu
