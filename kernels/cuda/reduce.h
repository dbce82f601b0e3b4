// CUDA twins of kernels/cpu/reduce.h, same signatures and contracts (a viewed as [outer, size,
// inner]; outputs allocated by kernels/reduce.cpp). A plain C++ header; compiled only when
// WISP_WITH_CUDA.
#pragma once

#include "wisp/core/tensor.h"

namespace wisp::kernels::cuda {

void sum_all(const Tensor& a, const Tensor& out);
void sum_dim(const Tensor& a, int64_t outer, int64_t size, int64_t inner, const Tensor& out);
void expand_dim(const Tensor& g, int64_t outer, int64_t size, int64_t inner, const Tensor& out);
void argmax_dim(const Tensor& a, int64_t outer, int64_t size, int64_t inner, const Tensor& out);

// out (one element) = scale · Σ a, for the other CUDA twins (the squared-error sum): a's sum as
// sum_all computes it, multiplied in double before the rounding to the output's type.
void sum_all_scaled(const Tensor& a, double scale, const Tensor& out);

}  // namespace wisp::kernels::cuda
