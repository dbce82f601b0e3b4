// Dense products: matmul, linear. Defined in ops/linear.cpp.
// Each op checks its arguments (wisp::Error stating expected vs actual), runs its kernel through
// one dispatch point in kernels/ and, when recording and an input requires grad, records one tape
// entry whose backward captures only what it needs.
#pragma once

#include "wisp/core/tensor.h"

namespace wisp {

// PyTorch's matmul for 1-D and 2-D operands, and [..., n, k] x [k, m] (batch folded into rows).
Tensor matmul(const Tensor& a, const Tensor& b);
// y = x weightᵀ + bias: x [..., in], weight [out, in], bias [out] or undefined.
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace wisp
