// CUDA twins of kernels/cpu/sparse_linear.h (the sparse linear layer), same signatures and
// contracts: values [nnz] in (row, col) order, a SparseStructure on the same GPU, activations
// feature-major ([features, stride], the batch along stride). A plain C++ header; compiled only
// when WISP_WITH_CUDA. The structure itself is built on the host and copied (kernels/sparse_linear.cpp).
#pragma once

#include "wisp/core/tensor.h"
#include "wisp/kernels/sparse_linear.h"

namespace wisp::kernels::cuda {

void to_feature_major(const Tensor& batch_major, const FeatureMajor& feature_major);
void sparse_linear_forward(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                           const Tensor& bias, const Tensor& output);
void sparse_linear_backward_input(const FeatureMajor& grad_output, const Tensor& values,
                                  const SparseStructure& structure, const Tensor& grad_input);
void sparse_linear_backward_values(const FeatureMajor& grad_output, const FeatureMajor& input,
                                   const SparseStructure& structure, const Tensor& grad_values);
void sparse_linear_backward_bias(const Tensor& grad_output, const Tensor& grad_bias);

}  // namespace wisp::kernels::cuda
