// Dispatch points for dense products: the 2-D matrix product behind matmul, and the fused linear
// layer (y = x weightᵀ + bias) with its backward. Each checks devices once and calls the CPU twin
// (kernels/cpu/linear.h) or the CUDA twin (kernels/cuda/) with the same signature. Outputs are
// allocated here, so twins only write. Not recorded on the tape: ops/linear.cpp adds autograd.
//
// All operands are float32, 2-D, row-major and contiguous; callers (the ops) fold batch
// dimensions into rows and check shapes with user-facing messages before calling.
#pragma once

#include "wisp/core/tensor.h"

namespace wisp::kernels {

// out = op(a) · op(b), where op(m) is m or mᵀ as asked: a [n, k] (or [k, n] when transpose_a),
// b [k, m] (or [m, k] when transpose_b) -> out [n, m]. The transposed forms serve the backward of
// matmul (grad_a = g · bᵀ, grad_b = aᵀ · g) without materialising a transpose.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);

// y = input · weightᵀ + bias: input [rows, in], weight [out, in], bias [out] or undefined
// -> y [rows, out].
Tensor linear_forward(const Tensor& input, const Tensor& weight, const Tensor& bias);

// The gradients of linear_forward; each is undefined unless it was asked for.
struct LinearGradients {
  Tensor input;   // [rows, in]  = grad_output · weight
  Tensor weight;  // [out, in]   = grad_outputᵀ · input
  Tensor bias;    // [out]       = column sums of grad_output
};

// grad_output [rows, out]; input [rows, in] (may be undefined unless need_weight); weight
// [out, in] (may be undefined unless need_input).
LinearGradients linear_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight, bool need_input,
                                bool need_weight, bool need_bias);

}  // namespace wisp::kernels
