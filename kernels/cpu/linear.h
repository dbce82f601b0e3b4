// CPU dense products (Eigen GEMM on our row-major storage, split over OpenMP threads by wisp).
// Layout: every tensor float32, row-major and contiguous; outputs are allocated by the dispatch
// point (kernels/linear.h) with the right shapes, and never alias the inputs.
#pragma once

#include "wisp/core/tensor.h"

namespace wisp::kernels::cpu {

// out = op(a) · op(b): a [n, k] (or [k, n] when transpose_a), b [k, m] (or [m, k] when
// transpose_b); out [n, m].
void matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, const Tensor& out);

// output = input · weightᵀ + bias: input [rows, in], weight [out, in], bias [out] or undefined;
// output [rows, out].
void linear_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& output);

// grad_output [rows, out], input [rows, in], weight [out, in]. Writes each defined gradient:
// grad_input [rows, in] = grad_output · weight, grad_weight [out, in] = grad_outputᵀ · input,
// grad_bias [out] = column sums of grad_output. Undefined gradients are skipped (and the input
// they would need may be undefined too).
void linear_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight, const Tensor& grad_input,
                     const Tensor& grad_weight, const Tensor& grad_bias);

}  // namespace wisp::kernels::cpu
