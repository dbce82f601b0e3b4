// CPU reductions. Shapes: `a` viewed as [outer, size, inner] around the reduced dimension;
// outputs [outer, inner] (row-major, contiguous), allocated by kernels/reduce.cpp.
#pragma once

#include "wisp/core/tensor.h"

namespace wisp::kernels::cpu {

// out (1 element): float32 sum in double precision, or Int64 sum of an integer tensor.
void sum_all(const Tensor& a, const Tensor& out);
// out[o, i] = sum_s a[o, s, i].
void sum_dim(const Tensor& a, int64_t outer, int64_t size, int64_t inner, const Tensor& out);
// out[o, s, i] = g[o, i] (float32).
void expand_dim(const Tensor& g, int64_t outer, int64_t size, int64_t inner, const Tensor& out);
// out[o, i] = argmax_s a[o, s, i] (Int64; lowest index on ties; NaN wins).
void argmax_dim(const Tensor& a, int64_t outer, int64_t size, int64_t inner, const Tensor& out);

}  // namespace wisp::kernels::cpu
