// Dispatch points for reductions. A reduction over dimension `dim` of a row-major tensor views it
// as [outer, size, inner] (outer = product of the sizes before dim, inner = after it).
#pragma once

#include "wisp/core/tensor.h"

namespace wisp::kernels {

// Sum of all elements: float32 -> float32 scalar (accumulated in double), integers -> Int64 scalar.
Tensor sum_all(const Tensor& a);
// Sum over `dim` (already normalised); float32 -> float32, integers -> Int64. Output shape: a's
// shape without dim (or with size 1 there when keepdim).
Tensor sum_dim(const Tensor& a, int64_t dim, bool keepdim);
// out = g broadcast back over `dim` of `shape` (the backward of sum_dim; g has keepdim shape).
Tensor expand_dim(const Tensor& g, const Shape& shape, int64_t dim);
// Int64 index of the maximum along `dim` (first on ties; NaN counts as the maximum, like PyTorch).
Tensor argmax_dim(const Tensor& a, int64_t dim, bool keepdim);

}  // namespace wisp::kernels
