// Reductions: sum, mean, argmax. Defined in ops/reduction.cpp.
// Each op checks its arguments (wisp::Error stating expected vs actual), runs its kernel through
// one dispatch point in kernels/ and, when recording and an input requires grad, records one tape
// entry whose backward captures only what it needs.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"

namespace wisp {

// ---- reductions ---------------------------------------------------------------------------------
Tensor sum(const Tensor& a);  // all elements; integer inputs give an Int64 scalar
Tensor sum(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& a);  // float32 only
Tensor mean(const Tensor& a, int64_t dim, bool keepdim = false);

// ---- not differentiable -------------------------------------------------------------------------
// Index of the largest element (the first one on ties), Int64.
Tensor argmax(const Tensor& a);
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim = false);

}  // namespace wisp
