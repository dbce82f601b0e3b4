// Dispatch points for elementwise kernels: each function checks devices once and calls the CPU
// twin (kernels/cpu/elementwise.h) or the CUDA twin with the same signature (kernels/cuda/elementwise.h).
// Outputs are allocated here, so twins only write. Not recorded on the tape: layers/ adds autograd.
#pragma once

#include <optional>

#include "wisp/core/tensor.h"
#include "wisp/kernels/elementwise_math.h"

namespace wisp::kernels {

// out = a op b with PyTorch broadcasting; a and b have the same dtype (any) and device.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
// self = self op other in place; `other` broadcasts to self's shape.
void binary_(BinaryOp op, const Tensor& self, const Tensor& other);
// out = a op scalar (or scalar op a when scalar_first); float32 or integer a.
Tensor binary_scalar(BinaryOp op, const Tensor& a, double scalar, bool scalar_first = false);
void binary_scalar_(BinaryOp op, const Tensor& self, double scalar);
// out = unary(a), float32.
Tensor unary(UnaryOp op, const Tensor& a);
// grad_input = grad_output · f'(x) for out = f(x) = unary(op, x), float32, one shape; `saved` is the
// output for the ops unary_backward_reads_output(op) names, the input otherwise.
Tensor unary_backward(UnaryOp op, const Tensor& grad_output, const Tensor& saved);
// grad_input = grad_output * (input > 0), float32, same shapes.
Tensor relu_backward(const Tensor& grad_output, const Tensor& input);
// out = (a op b) with broadcasting, UInt8 (1 where true); a and b of one dtype (any).
Tensor compare(CompareOp op, const Tensor& a, const Tensor& b);
// out = (a op scalar), UInt8, a's shape. The scalar is converted to a's dtype first, as arithmetic
// converts it: an integer tensor takes only a whole number it can hold.
Tensor compare_scalar(CompareOp op, const Tensor& a, double scalar);
// compare(CompareOp::Eq, a, b).
Tensor equal(const Tensor& a, const Tensor& b);
// out = condition ? a : b elementwise, all three broadcast together (at most 8 dimensions on CUDA);
// condition UInt8 (nonzero = true), a and b of one dtype (any), which out has.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
// out = min(max(a, min), max) elementwise with absent bounds left out; a any dtype. For an integer
// a the bounds must be whole numbers it can hold; no bound may be NaN.
Tensor clamp(const Tensor& a, const std::optional<double>& min, const std::optional<double>& max);
// grad_input = grad_output where min <= input <= max (absent bounds always pass), else 0; float32.
Tensor clamp_backward(const Tensor& grad_output, const Tensor& input, const std::optional<double>& min,
                      const std::optional<double>& max);
// A copy of `a` converted to `dtype` (values truncated toward zero for float -> integer).
Tensor cast(const Tensor& a, DType dtype);
// self[:] = value, any dtype.
void fill_(const Tensor& self, double value);
// Sums `a` over its broadcast dimensions down to `shape` (the backward of broadcasting).
Tensor sum_to_shape(const Tensor& a, const Shape& shape);

}  // namespace wisp::kernels
