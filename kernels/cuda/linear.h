// CUDA twins of kernels/cpu/linear.h (dense products through cuBLAS), same signatures and
// contracts. A plain C++ header; compiled only when WISP_WITH_CUDA.
#pragma once

#include "wisp/core/tensor.h"

namespace wisp::kernels::cuda {

void matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, const Tensor& out);
void linear_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& output);
void linear_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight, const Tensor& grad_input,
                     const Tensor& grad_weight, const Tensor& grad_bias);

// sums [columns] = column sums of values [rows, columns], rows in order with a float accumulator,
// the additions of the CPU's column_sums (kernels/cpu/parallel.h): the bias gradient of the dense
// and of the sparse linear layer.
void column_sums(const Tensor& values, const Tensor& sums);

}  // namespace wisp::kernels::cuda
