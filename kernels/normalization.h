// Dispatch points for layer normalisation: each function checks devices once, allocates the
// outputs and calls the CPU twin (kernels/cpu/normalization.h) or the CUDA twin with the same
// signature (kernels/cuda/normalization.h). Not recorded on the tape: ops/normalization.cpp adds autograd.
//
// The input is viewed as [rows, features]: features = normalized_shape.numel() (the trailing
// dimensions being normalised), rows = everything before them. Callers have checked shapes and
// dtypes (float32 everywhere).
#pragma once

#include "wisp/core/tensor.h"

namespace wisp::kernels {

struct LayerNormForward {
  Tensor output;  // input's shape
  Tensor mean;    // [rows]: the mean of each row
  Tensor rstd;    // [rows]: 1 / sqrt(biased variance + eps) of each row
};

// y = (x − mean) · rstd · weight + bias per row; weight and bias have normalized_shape, and either
// may be undefined (then 1 and 0).
LayerNormForward layer_norm_forward(const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                                    const Tensor& bias, double eps);

struct LayerNormGradients {
  Tensor input;   // input's shape, or undefined when not requested
  Tensor weight;  // normalized_shape, or undefined when not requested
  Tensor bias;    // normalized_shape, or undefined when not requested
};

// The gradients of layer_norm_forward from the saved mean and rstd; only the requested ones are
// computed. `weight` may be undefined (no affine scale).
LayerNormGradients layer_norm_backward(const Tensor& grad_output, const Tensor& input, const Tensor& mean,
                                       const Tensor& rstd, const Tensor& weight, const Shape& normalized_shape,
                                       bool need_input, bool need_weight, bool need_bias);

}  // namespace wisp::kernels
