// CUDA twins of cat and repeat_interleave (kernels/cuda/shape.h): one thread per element written,
// in grid-stride loops. cat and its backward copy one [outer, block] slab per input with one
// launch each (inputs are few; a launch per input keeps the kernel a plain strided copy).
// repeat_interleave's backward sums each group in the CPU twin's order, in float, so the two
// devices agree exactly.
#include "wisp/kernels/cuda/shape.h"

#include "wisp/kernels/access.h"
#include "wisp/kernels/cuda/launch.h"

namespace wisp::kernels::cuda {
namespace {

// destination [rows, destination_stride], source [rows, source_stride] (row-major, pointers
// already at the block's first column): copies the [rows, width] block; n = rows · width.
template <class T>
__global__ void copy_block_kernel(int64_t n, int64_t width, const T* source, int64_t source_stride, T* destination,
                                  int64_t destination_stride) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) {
    const int64_t row = j / width, column = j % width;
    destination[row * destination_stride + column] = source[row * source_stride + column];
  }
}

// a [rows, inner], out [rows · repeats, inner] (rows = outer · size; n = out's numel, 0 when
// repeats = 0): out[row · repeats + r, i] = a[row, i].
template <class T>
__global__ void repeat_interleave_kernel(int64_t n, const T* a, int64_t inner, int64_t repeats, T* out) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) {
    const int64_t out_row = j / inner, i = j % inner;
    out[j] = a[(out_row / repeats) * inner + i];
  }
}

// grad_output [rows · repeats, inner], grad_input [rows, inner] (n = rows · inner):
// grad_input[row, i] = Σ_r grad_output[row · repeats + r, i], added in r order from 0 in float
// like the CPU twin (0 when repeats = 0).
__global__ void repeat_interleave_backward_kernel(int64_t n, const float* grad_output, int64_t inner, int64_t repeats,
                                                  float* grad_input) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) {
    const int64_t row = j / inner, i = j % inner;
    const float* group = grad_output + row * repeats * inner + i;
    float total = 0.0f;
    for (int64_t r = 0; r < repeats; ++r) total += group[r * inner];
    grad_input[j] = total;
  }
}

}  // namespace

// inputs[j] [outer, block_j] (block_j = size_j · inner), out [outer, Σ_j block_j]: input j fills
// columns position_j .. position_j + block_j of every row of out.
void cat(const std::vector<Tensor>& inputs, int64_t outer, const Tensor& out) {
  if (outer == 0) return;  // nothing to copy (and no block size to divide by)
  const DeviceScope scope(out);
  const int64_t out_block = out.numel() / outer;
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    int64_t position = 0;
    for (const Tensor& input : inputs) {
      const int64_t block = input.numel() / outer;
      launch(copy_block_kernel<T>, outer * block, block, pointer<T>(input), block, mutable_pointer<T>(out) + position,
             out_block);
      position += block;
    }
  });
}

// grad_output [outer, Σ_j block_j], grad_inputs[j] [outer, block_j] (block_j = sizes[j] · inner):
// the reverse copies, for the defined gradients only.
void cat_backward(const Tensor& grad_output, int64_t outer, int64_t inner, const std::vector<int64_t>& sizes,
                  const std::vector<Tensor>& grad_inputs) {
  if (outer == 0) return;
  const DeviceScope scope(grad_output);
  const int64_t out_block = grad_output.numel() / outer;
  int64_t position = 0;
  for (size_t j = 0; j < sizes.size(); ++j) {
    const int64_t block = sizes[j] * inner;
    if (grad_inputs[j].defined())
      launch(copy_block_kernel<float>, outer * block, block, pointer<float>(grad_output) + position, out_block,
             mutable_pointer<float>(grad_inputs[j]), block);
    position += block;
  }
}

void repeat_interleave(const Tensor& a, int64_t outer, int64_t size, int64_t inner, int64_t repeats,
                       const Tensor& out) {
  const DeviceScope scope(out);
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(repeat_interleave_kernel<T>, outer * size * repeats * inner, pointer<T>(a), inner, repeats,
           mutable_pointer<T>(out));
  });
}

void repeat_interleave_backward(const Tensor& grad_output, int64_t outer, int64_t size, int64_t inner, int64_t repeats,
                                const Tensor& grad_input) {
  const DeviceScope scope(grad_input);
  launch(repeat_interleave_backward_kernel, outer * size * inner, pointer<float>(grad_output), inner, repeats,
         mutable_pointer<float>(grad_input));
}

}  // namespace wisp::kernels::cuda
