// CUDA twins of kernels/cpu/shape.h (cat, repeat_interleave and their backward): the same
// signatures, layouts ([outer, size, inner] views of row-major tensors) and contracts; outputs
// allocated by kernels/shape.cpp. A plain C++ header; compiled only when WISP_WITH_CUDA.
#pragma once

#include <cstdint>
#include <vector>

#include "wisp/core/tensor.h"

namespace wisp::kernels::cuda {

void cat(const std::vector<Tensor>& inputs, int64_t outer, const Tensor& out);
void cat_backward(const Tensor& grad_output, int64_t outer, int64_t inner, const std::vector<int64_t>& sizes,
                  const std::vector<Tensor>& grad_inputs);
void repeat_interleave(const Tensor& a, int64_t outer, int64_t size, int64_t inner, int64_t repeats, const Tensor& out);
void repeat_interleave_backward(const Tensor& grad_output, int64_t outer, int64_t size, int64_t inner, int64_t repeats,
                                const Tensor& grad_input);

}  // namespace wisp::kernels::cuda
