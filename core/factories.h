// Functions that create tensors: constants, ranges, random values, and tensors from std::vector.
//
// All take TensorOptions (a DType, a Device, or both), defaulting to Float32 on the CPU, and all but
// arange (which takes a range) a Shape.
// Random factories draw from default_generator() (see manual_seed).
#pragma once

#include <cstdint>
#include <vector>

#include "wisp/core/tensor.h"

namespace wisp {

Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor zeros_like(const Tensor& tensor);
Tensor ones_like(const Tensor& tensor);

// 0, 1, ..., end - 1 and start, start + step, ... (< end for step > 0, > end for step < 0).
Tensor arange(int64_t end, TensorOptions options = {});
Tensor arange(int64_t start, int64_t end, int64_t step = 1, TensorOptions options = {});

// Uniform in [0, 1).
Tensor rand(const Shape& shape, TensorOptions options = {});
// Standard normal (Box-Muller).
Tensor randn(const Shape& shape, TensorOptions options = {});
// Uniform integers in [low, high); Int64 unless options say otherwise.
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options = DType::Int64);

// A tensor holding `values` with the given shape (default: 1-D); the dtype follows T.
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions options = {});
template <class T>
Tensor from_vector(const std::vector<T>& values) {
  return from_vector(values, Shape{static_cast<int64_t>(values.size())});
}

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions options) {
  WISP_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "from_vector: expected ", shape.numel(),
             " values for shape ", shape, " but got ", values.size());
  Tensor result = empty(shape, TensorOptions(dtype_of<T>()).device(options.device()));
  copy_bytes(result.raw_data(), result.device(), values.data(), Device::cpu(), values.size() * sizeof(T));
  if (options.requires_grad()) result.set_requires_grad(true);
  return result;
}

}  // namespace wisp
