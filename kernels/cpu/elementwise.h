// CPU elementwise kernels. Layout: all tensors row-major and contiguous; `out` is allocated by the
// dispatch point (kernels/elementwise.h) with the broadcast shape and the right dtype.
#pragma once

#include <optional>

#include "wisp/core/tensor.h"
#include "wisp/kernels/elementwise_math.h"

namespace wisp::kernels::cpu {

// out[i] = a[ia(i)] op b[ib(i)], a/b broadcast to out's shape; same dtype everywhere.
void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
// out[i] = a[i] op scalar (or scalar op a[i]); a and out same shape and dtype.
void binary_scalar(BinaryOp op, const Tensor& a, double scalar, bool scalar_first, const Tensor& out);
// out[i] = unary(a[i]); float32.
void unary(UnaryOp op, const Tensor& a, const Tensor& out);
// grad_input[i] = unary_backward_element(op, grad_output[i], saved[i]); float32, one shape.
void unary_backward(UnaryOp op, const Tensor& grad_output, const Tensor& saved, const Tensor& grad_input);
// grad_input[i] = grad_output[i] if input[i] > 0 else 0; float32, one shape.
void relu_backward(const Tensor& grad_output, const Tensor& input, const Tensor& grad_input);
// out[i] = a[ia(i)] op b[ib(i)] (UInt8), a/b broadcast to out's shape.
void compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out);
// out[i] = a[i] op scalar (UInt8, a's shape); the scalar is converted to a's dtype.
void compare_scalar(CompareOp op, const Tensor& a, double scalar, const Tensor& out);
// out[i] = condition[ic(i)] ? a[ia(i)] : b[ib(i)], all broadcast to out's shape; condition UInt8,
// a, b and out of one dtype.
void where(const Tensor& condition, const Tensor& a, const Tensor& b, const Tensor& out);
// out[i] = clamp_element(a[i], min, max) with the bounds in a's dtype; a and out one shape and dtype.
void clamp(const Tensor& a, const std::optional<double>& min, const std::optional<double>& max, const Tensor& out);
// grad_input[i] = grad_output[i] where min <= input[i] <= max, else 0; float32, one shape.
void clamp_backward(const Tensor& grad_output, const Tensor& input, const std::optional<double>& min,
                    const std::optional<double>& max, const Tensor& grad_input);
// out[i] = static_cast<out dtype>(a[i]); one shape.
void cast(const Tensor& a, const Tensor& out);
void fill(const Tensor& out, double value);
// out[j] = sum of a[i] over the i that broadcast to j (out's shape broadcasts to a's); float32.
void sum_to_shape(const Tensor& a, const Tensor& out);

}  // namespace wisp::kernels::cpu
