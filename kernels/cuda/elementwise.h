// CUDA twins of kernels/cpu/elementwise.h: the same signatures and contracts (tensors on one CUDA
// device, row-major, contiguous; outputs allocated by the dispatch point). A plain C++ header: the
// dispatch points include it; only kernels/cuda/*.cu include CUDA headers. Compiled only when
// WISP_WITH_CUDA. Per-element arithmetic comes from kernels/elementwise_math.h, shared with the CPU
// twins; index arithmetic from kernels/device_indexing.h, tested on the CPU.
#pragma once

#include <optional>

#include "wisp/core/tensor.h"
#include "wisp/kernels/elementwise_math.h"

namespace wisp::kernels::cuda {

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
void binary_scalar(BinaryOp op, const Tensor& a, double scalar, bool scalar_first, const Tensor& out);
void unary(UnaryOp op, const Tensor& a, const Tensor& out);
void unary_backward(UnaryOp op, const Tensor& grad_output, const Tensor& saved, const Tensor& grad_input);
void relu_backward(const Tensor& grad_output, const Tensor& input, const Tensor& grad_input);
void compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out);
void compare_scalar(CompareOp op, const Tensor& a, double scalar, const Tensor& out);
void where(const Tensor& condition, const Tensor& a, const Tensor& b, const Tensor& out);
void clamp(const Tensor& a, const std::optional<double>& min, const std::optional<double>& max, const Tensor& out);
void clamp_backward(const Tensor& grad_output, const Tensor& input, const std::optional<double>& min,
                    const std::optional<double>& max, const Tensor& grad_input);
void cast(const Tensor& a, const Tensor& out);
void fill(const Tensor& out, double value);
void sum_to_shape(const Tensor& a, const Tensor& out);

}  // namespace wisp::kernels::cuda
