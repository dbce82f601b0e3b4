// Dispatch points for elementwise kernels: each function checks devices once and calls the CPU
// twin (kernels/cpu/elementwise.h) or the CUDA twin with the same signature (kernels/cuda/elementwise.h).
// Outputs are allocated here, so twins only write. Not recorded on the tape: layers/ adds autograd.
#pragma once

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
// grad_input = grad_output * (input > 0), float32, same shapes.
Tensor relu_backward(const Tensor& grad_output, const Tensor& input);
// out = (a == b) with broadcasting, UInt8 (1 where equal).
Tensor equal(const Tensor& a, const Tensor& b);
// A copy of `a` converted to `dtype` (values truncated toward zero for float -> integer).
Tensor cast(const Tensor& a, DType dtype);
// self[:] = value, any dtype.
void fill_(const Tensor& self, double value);
// Sums `a` over its broadcast dimensions down to `shape` (the backward of broadcasting).
Tensor sum_to_shape(const Tensor& a, const Shape& shape);

}  // namespace wisp::kernels
