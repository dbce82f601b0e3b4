// CUDA twins of kernels/cpu/normalization.h (layer normalisation), same signatures and contracts.
// A plain C++ header; compiled only when WISP_WITH_CUDA.
#pragma once

#include "wisp/core/tensor.h"

namespace wisp::kernels::cuda {

void layer_norm_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, double eps, int64_t rows,
                        int64_t features, const Tensor& output, const Tensor& mean, const Tensor& rstd);
void layer_norm_backward(const Tensor& grad_output, const Tensor& input, const Tensor& mean, const Tensor& rstd,
                         const Tensor& weight, int64_t rows, int64_t features, const Tensor& grad_input,
                         const Tensor& grad_weight, const Tensor& grad_bias);

}  // namespace wisp::kernels::cuda
