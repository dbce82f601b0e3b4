// Elementwise ops with PyTorch broadcasting (trailing dimensions aligned): arithmetic, exp, log,
// sqrt, abs, the activations (relu, tanh, sigmoid, gelu), clamp, where and the comparisons.
// Defined in ops/elementwise.cpp.
// Each op checks its arguments (wisp::Error stating expected vs actual), runs its kernel through
// one dispatch point in kernels/ and, when recording and an input requires grad, records one tape
// entry whose backward captures only what it needs.
#pragma once

#include <optional>
#include <string>

#include "wisp/core/tensor.h"

namespace wisp {

// ---- elementwise arithmetic, with PyTorch broadcasting (trailing dimensions aligned) -------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);  // float32 only
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
// |x|. The gradient is sign(x): 0 at 0 (and at NaN), as PyTorch's. Integer tensors too (not
// differentiable; abs of the most negative value wraps to itself, as PyTorch's).
Tensor abs(const Tensor& a);

// ---- activations, float32, any shape ------------------------------------------------------------
// max(x, 0); the gradient at exactly 0 is 0 (PyTorch's convention).
Tensor relu(const Tensor& a);
Tensor tanh(const Tensor& a);
// 1 / (1 + exp(−x)): 0 (not NaN) for very negative x.
Tensor sigmoid(const Tensor& a);
// x · Φ(x), Φ the standard normal CDF: PyTorch's default, exact (erf) form. approximate = "tanh"
// gives 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))), as PyTorch's gelu(x, approximate='tanh').
// Anything else is a wisp::Error.
Tensor gelu(const Tensor& a, const std::string& approximate = "none");

// ---- clamp and where ----------------------------------------------------------------------------
// min(max(x, min), max) elementwise, an absent bound not applied: clamp(x, 0.0, 1.0),
// clamp(x, std::nullopt, 6.0). At least one bound; min > max gives max everywhere and NaN stays
// NaN (PyTorch's rules). The gradient passes where min <= x <= max, the bounds included (PyTorch's
// convention), and is 0 elsewhere. Any dtype; an integer tensor takes whole-number bounds it can hold.
Tensor clamp(const Tensor& a, const std::optional<double>& min, const std::optional<double>& max = std::nullopt);
// condition ? a : b elementwise; condition UInt8 (a comparison's result; nonzero = true), a and b of
// one dtype, all three broadcast together. The gradient goes to a where the condition holds and to
// b elsewhere (summed over broadcast dimensions). A scalar value takes the other value's dtype.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& condition, const Tensor& a, double b);
Tensor where(const Tensor& condition, double a, const Tensor& b);

// ---- comparisons, not differentiable --------------------------------------------------------------
// Elementwise with broadcasting; the result is UInt8 (1 = true; wisp has no bool dtype). Summing it
// gives an Int64 count. Tensor-tensor: one dtype (any). Tensor-scalar: the scalar is converted to the
// tensor's dtype as arithmetic converts it (a float32 tensor compares with float32(s), as PyTorch;
// an integer tensor takes only a whole number it can hold). NaN compares unequal to everything.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, double b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);
Tensor operator==(double a, const Tensor& b);
Tensor operator!=(double a, const Tensor& b);
Tensor operator<(double a, const Tensor& b);
Tensor operator<=(double a, const Tensor& b);
Tensor operator>(double a, const Tensor& b);
Tensor operator>=(double a, const Tensor& b);

}  // namespace wisp
