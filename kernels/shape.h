// Dispatch points for ops that copy elements into a new layout: cat and repeat_interleave, with
// their backward. Each checks devices once and calls the CPU twin (kernels/cpu/shape.h) or, for
// CUDA tensors, the CUDA twin with the same signature (kernels/cuda/shape.h). Outputs are allocated
// here, so twins only write. Not recorded on the tape: ops/indexing.cpp adds autograd and
// the user-facing checks.
//
// Both ops view a row-major tensor around dimension `dim` as [outer, size, inner] (outer = product
// of the sizes before dim, inner = product of the sizes after it).
#pragma once

#include <cstdint>
#include <vector>

#include "wisp/core/tensor.h"

namespace wisp::kernels {

// Concatenates `tensors` along `dim` (already normalised). All have one dtype (any), one device,
// one rank and equal sizes except along dim; the caller has checked it.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);

// The backward of cat: slices `grad_output` along `dim` into pieces of the input shapes. Returns
// one gradient per input shape, undefined where `needed[i]` is false. Float32.
std::vector<Tensor> cat_backward(const Tensor& grad_output, int64_t dim, const std::vector<Shape>& input_shapes,
                                 const std::vector<bool>& needed);

// Repeats each slice a[..., s, ...] of dimension `dim` (already normalised) `repeats` times in a
// row: a [outer, size, inner] -> out [outer, size * repeats, inner]. Any dtype; repeats >= 0.
Tensor repeat_interleave(const Tensor& a, int64_t repeats, int64_t dim);

// The backward of repeat_interleave: grad_input[o, s, i] = Σ_r grad_output[o, s * repeats + r, i],
// of shape `input_shape`. Float32.
Tensor repeat_interleave_backward(const Tensor& grad_output, const Shape& input_shape, int64_t repeats, int64_t dim);

}  // namespace wisp::kernels
