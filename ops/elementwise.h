// Elementwise ops with PyTorch broadcasting (trailing dimensions aligned): arithmetic, exp, log,
// sqrt, relu, and equality. Defined in ops/elementwise.cpp.
// Each op checks its arguments (wisp::Error stating expected vs actual), runs its kernel through
// one dispatch point in kernels/ and, when recording and an input requires grad, records one tape
// entry whose backward captures only what it needs.
#pragma once

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
// max(x, 0); the gradient at exactly 0 is 0 (PyTorch's convention).
Tensor relu(const Tensor& a);

// ---- not differentiable -------------------------------------------------------------------------
// Elementwise equality with broadcasting, UInt8 (1 = equal). Summing it gives an Int64 count.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, const Tensor& b);

}  // namespace wisp
