// CPU kernels that copy elements into a new layout (cat, repeat_interleave) and their backward.
// Layout: all tensors row-major and contiguous, viewed around the operated dimension as
// [outer, size, inner]; outputs are allocated by the dispatch point (kernels/shape.h).
#pragma once

#include <cstdint>
#include <vector>

#include "wisp/core/tensor.h"

namespace wisp::kernels::cpu {

// inputs[j]: [outer, size_j, inner]; out: [outer, Σ_j size_j, inner]; one dtype (any). Each input's
// block size_j * inner is its numel / outer.
void cat(const std::vector<Tensor>& inputs, int64_t outer, const Tensor& out);

// grad_output: [outer, Σ_j size_j, inner]; grad_inputs[j]: [outer, size_j, inner] with size_j given
// by `sizes`, written where defined (undefined ones are skipped). Float32.
void cat_backward(const Tensor& grad_output, int64_t outer, int64_t inner, const std::vector<int64_t>& sizes,
                  const std::vector<Tensor>& grad_inputs);

// a: [outer, size, inner]; out: [outer, size * repeats, inner] with
// out[o, s * repeats + r, i] = a[o, s, i]; one dtype (any).
void repeat_interleave(const Tensor& a, int64_t outer, int64_t size, int64_t inner, int64_t repeats, const Tensor& out);

// grad_output: [outer, size * repeats, inner]; grad_input: [outer, size, inner] with
// grad_input[o, s, i] = Σ_r grad_output[o, s * repeats + r, i]. Float32.
void repeat_interleave_backward(const Tensor& grad_output, int64_t outer, int64_t size, int64_t inner, int64_t repeats,
                                const Tensor& grad_input);

}  // namespace wisp::kernels::cpu
