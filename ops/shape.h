// Ops that change a tensor's shape but not its elements: view, reshape, flatten. Defined in
// ops/shape.cpp.
// Each op checks its arguments (wisp::Error stating expected vs actual), runs its kernel through
// one dispatch point in kernels/ and, when recording and an input requires grad, records one tape
// entry whose backward captures only what it needs.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"

namespace wisp {

// ---- shape ---------------------------------------------------------------------------------------
// Same elements, new shape, shared storage; one size may be -1 (inferred).
Tensor view(const Tensor& a, const Shape& shape);
Tensor reshape(const Tensor& a, const Shape& shape);
// Merges dimensions start_dim..end_dim into one.
Tensor flatten(const Tensor& a, int64_t start_dim = 0, int64_t end_dim = -1);

}  // namespace wisp
