// Layer normalisation. Defined in ops/normalization.cpp.
// Each op checks its arguments (wisp::Error stating expected vs actual), runs its kernel through
// one dispatch point in kernels/ and, when recording and an input requires grad, records one tape
// entry whose backward captures only what it needs.
#pragma once

#include "wisp/core/tensor.h"

namespace wisp {

// Normalises over the trailing dimensions `normalized_shape` (biased variance, like PyTorch), then
// scales by `weight` and shifts by `bias` when they are defined (both of shape normalized_shape).
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

}  // namespace wisp
