#include "wisp/kernels/cpu/shape.h"
#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/parallel.h"

#include <algorithm>
#include <cstring>

namespace wisp::kernels::cpu {
namespace {

// memcpy that accepts empty ranges, whose pointers may be null (memcpy itself must not see them).
void copy_bytes_if_any(char* destination, const char* source, size_t nbytes) {
  if (nbytes > 0) std::memcpy(destination, source, nbytes);
}

}  // namespace

// inputs[j]: [outer, size_j, inner]; out: [outer, Σ_j size_j, inner]; row-major, one dtype.
// For each outer index, the output holds the inputs' blocks of size_j * inner elements one after
// another, so the copy is one memcpy per (outer index, input).
void cat(const std::vector<Tensor>& inputs, int64_t outer, const Tensor& out) {
  const size_t element = element_size(out.dtype());
  const int64_t out_block = out.numel() / std::max<int64_t>(outer, 1);  // Σ_j size_j * inner
  char* destination = mutable_pointer<char>(out);
#pragma omp parallel for schedule(static) if (out.numel() > kParallelThreshold)
  for (int64_t o = 0; o < outer; ++o) {
    int64_t position = o * out_block;
    for (const Tensor& input : inputs) {
      const int64_t block = input.numel() / outer;  // size_j * inner
      const char* source = pointer<char>(input);
      copy_bytes_if_any(destination + position * static_cast<int64_t>(element),
                        source + o * block * static_cast<int64_t>(element), static_cast<size_t>(block) * element);
      position += block;
    }
  }
}

// grad_output: [outer, Σ_j size_j, inner]; grad_inputs[j]: [outer, size_j, inner], float32.
void cat_backward(const Tensor& grad_output, int64_t outer, int64_t inner, const std::vector<int64_t>& sizes,
                  const std::vector<Tensor>& grad_inputs) {
  const float* source = pointer<float>(grad_output);
  const int64_t out_block = grad_output.numel() / std::max<int64_t>(outer, 1);
#pragma omp parallel for schedule(static) if (grad_output.numel() > kParallelThreshold)
  for (int64_t o = 0; o < outer; ++o) {
    int64_t position = o * out_block;
    for (size_t j = 0; j < sizes.size(); ++j) {
      const int64_t block = sizes[j] * inner;
      if (grad_inputs[j].defined()) {
        float* destination = mutable_pointer<float>(grad_inputs[j]);
        copy_bytes_if_any(reinterpret_cast<char*>(destination + o * block),
                          reinterpret_cast<const char*>(source + position), static_cast<size_t>(block) * sizeof(float));
      }
      position += block;
    }
  }
}

// a: [outer, size, inner]; out: [outer, size * repeats, inner]; row-major, one dtype.
// Seen as rows of `inner` elements, input row k (= o * size + s) becomes output rows
// k * repeats .. k * repeats + repeats - 1.
void repeat_interleave(const Tensor& a, int64_t outer, int64_t size, int64_t inner, int64_t repeats,
                       const Tensor& out) {
  const int64_t rows = outer * size;
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* source = pointer<T>(a);
    T* destination = mutable_pointer<T>(out);
    if (inner == 1) {  // the common case (flattened, or repeating along the last dimension)
#pragma omp parallel for schedule(static) if (out.numel() > kParallelThreshold)
      for (int64_t row = 0; row < rows; ++row) std::fill_n(destination + row * repeats, repeats, source[row]);
      return;
    }
#pragma omp parallel for schedule(static) if (out.numel() > kParallelThreshold)
    for (int64_t row = 0; row < rows; ++row) {
      const T* from = source + row * inner;
      for (int64_t r = 0; r < repeats; ++r) std::copy_n(from, inner, destination + (row * repeats + r) * inner);
    }
  });
}

// grad_output: [outer, size * repeats, inner]; grad_input: [outer, size, inner]; float32, row-major.
void repeat_interleave_backward(const Tensor& grad_output, int64_t outer, int64_t size, int64_t inner, int64_t repeats,
                                const Tensor& grad_input) {
  const int64_t rows = outer * size;
  const float* source = pointer<float>(grad_output);
  float* destination = mutable_pointer<float>(grad_input);
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (grad_output.numel() > kParallelThreshold)
    for (int64_t row = 0; row < rows; ++row) {
      const float* group = source + row * repeats;
      float total = 0.0f;
      for (int64_t r = 0; r < repeats; ++r) total += group[r];
      destination[row] = total;
    }
    return;
  }
#pragma omp parallel for schedule(static) if (grad_output.numel() > kParallelThreshold)
  for (int64_t row = 0; row < rows; ++row) {
    float* to = destination + row * inner;
    std::fill_n(to, inner, 0.0f);
    for (int64_t r = 0; r < repeats; ++r) {
      const float* from = source + (row * repeats + r) * inner;
      for (int64_t i = 0; i < inner; ++i) to[i] += from[i];
    }
  }
}

}  // namespace wisp::kernels::cpu
