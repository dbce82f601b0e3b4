#include "wisp/kernels/shape.h"

#include "wisp/kernels/cpu/shape.h"
#include "wisp/kernels/dispatch.h"
#if WISP_WITH_CUDA
#include "wisp/kernels/cuda/shape.h"
#endif

namespace wisp::kernels {
namespace {

void check_dim_in_range(const char* op, int64_t dim, const Shape& shape) {
  WISP_CHECK(dim >= 0 && dim < static_cast<int64_t>(shape.size()), op, ": expected a normalised dimension in [0, ",
             shape.size(), ") for shape ", shape, " but got ", dim);
}

// input_shape with dimension dim repeated `repeats` times; a size that int64 cannot hold is an error
// (a wrapped size would let the kernel write past a small output).
std::vector<int64_t> repeated_dims(const char* op, const Shape& input_shape, int64_t dim, int64_t repeats) {
  std::vector<int64_t> dims = input_shape.dims();
  int64_t& size = dims[static_cast<size_t>(dim)];
  WISP_CHECK(!__builtin_mul_overflow(size, repeats, &size), op, ": dimension ", dim, " of shape ", input_shape,
             " repeated ", repeats, " times has more elements than int64 can count");
  return dims;
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  WISP_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i)
    WISP_CHECK(tensors[i].defined(), "cat: expected defined tensors but tensor ", i, " is undefined");
  const Tensor& first = tensors.front();
  WISP_CHECK(first.dim() > 0,
             "cat: zero-dimensional tensor (at index 0) cannot be concatenated; view it as [1] "
             "first");
  check_dim_in_range("cat", dim, first.shape());
  std::vector<int64_t> out_dims = first.shape().dims();
  out_dims[static_cast<size_t>(dim)] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    WISP_CHECK(t.dtype() == first.dtype(), "cat: expected all tensors of dtype ", first.dtype(),
               " (the dtype of tensor 0) but tensor ", i, " has dtype ", t.dtype());
    WISP_CHECK(t.device() == first.device(), "cat: expected all tensors on ", first.device(),
               " (the device of tensor 0) but tensor ", i, " is on ", t.device());
    WISP_CHECK(t.dim() == first.dim(), "cat: expected tensors with ", first.dim(), " dimensions like tensor 0 (shape ",
               first.shape(), ") but tensor ", i, " has shape ", t.shape());
    for (int64_t d = 0; d < first.dim(); ++d) {
      WISP_CHECK(d == dim || t.size(d) == first.size(d), "cat: expected tensor ", i, " to match tensor 0 (shape ",
                 first.shape(), ") in every dimension except ", dim, " but got shape ", t.shape(), " (dimension ", d,
                 ": ", first.size(d), " != ", t.size(d), ")");
    }
    out_dims[static_cast<size_t>(dim)] += t.size(dim);
  }
  Tensor out = empty(Shape(out_dims), TensorOptions(first.dtype()).device(first.device()));
  const DimensionSplit split = split_at(out.shape(), dim);
  dispatch(
      "cat", first, [&] { cpu::cat(tensors, split.outer, out); }, WISP_CUDA_TWIN(cuda::cat(tensors, split.outer, out)));
  return out;
}

std::vector<Tensor> cat_backward(const Tensor& grad_output, int64_t dim, const std::vector<Shape>& input_shapes,
                                 const std::vector<bool>& needed) {
  check_dtype("cat backward", "grad_output", grad_output, DType::Float32);
  check_dim_in_range("cat backward", dim, grad_output.shape());
  WISP_CHECK(needed.size() == input_shapes.size(), "cat backward: expected one `needed` flag per input (",
             input_shapes.size(), ") but got ", needed.size());
  const DimensionSplit split = split_at(grad_output.shape(), dim);
  std::vector<int64_t> sizes;
  std::vector<Tensor> gradients(input_shapes.size());
  int64_t total = 0;
  for (size_t i = 0; i < input_shapes.size(); ++i) {
    const Shape& shape = input_shapes[i];
    for (size_t d = 0; d < shape.size() || d < grad_output.shape().size(); ++d) {
      WISP_CHECK(shape.size() == grad_output.shape().size() &&
                     (static_cast<int64_t>(d) == dim || shape[d] == grad_output.shape()[d]),
                 "cat backward: input ", i, " has shape ", shape, ", which does not fit grad_output of shape ",
                 grad_output.shape(), " outside dimension ", dim);
    }
    sizes.push_back(shape[static_cast<size_t>(dim)]);
    total += sizes.back();
    if (needed[i]) gradients[i] = empty(shape, TensorOptions(DType::Float32).device(grad_output.device()));
  }
  WISP_CHECK(total == split.size, "cat backward: the inputs have ", total, " entries along dimension ", dim,
             " but grad_output has shape ", grad_output.shape());
  dispatch(
      "cat backward", grad_output, [&] { cpu::cat_backward(grad_output, split.outer, split.inner, sizes, gradients); },
      WISP_CUDA_TWIN(cuda::cat_backward(grad_output, split.outer, split.inner, sizes, gradients)));
  return gradients;
}

Tensor repeat_interleave(const Tensor& a, int64_t repeats, int64_t dim) {
  WISP_CHECK(repeats >= 0, "repeat_interleave: expected repeats >= 0 but got ", repeats);
  check_dim_in_range("repeat_interleave", dim, a.shape());
  const DimensionSplit split = split_at(a.shape(), dim);
  const std::vector<int64_t> out_dims = repeated_dims("repeat_interleave", a.shape(), dim, repeats);
  Tensor out = empty(Shape(out_dims), TensorOptions(a.dtype()).device(a.device()));
  dispatch(
      "repeat_interleave", a, [&] { cpu::repeat_interleave(a, split.outer, split.size, split.inner, repeats, out); },
      WISP_CUDA_TWIN(cuda::repeat_interleave(a, split.outer, split.size, split.inner, repeats, out)));
  return out;
}

Tensor repeat_interleave_backward(const Tensor& grad_output, const Shape& input_shape, int64_t repeats, int64_t dim) {
  check_dtype("repeat_interleave backward", "grad_output", grad_output, DType::Float32);
  check_dim_in_range("repeat_interleave backward", dim, input_shape);
  const std::vector<int64_t> expected = repeated_dims("repeat_interleave backward", input_shape, dim, repeats);
  WISP_CHECK(grad_output.shape() == Shape(expected), "repeat_interleave backward: expected grad_output of shape ",
             Shape(expected), " but got ", grad_output.shape());
  const DimensionSplit split = split_at(input_shape, dim);
  Tensor grad_input = empty(input_shape, TensorOptions(DType::Float32).device(grad_output.device()));
  dispatch(
      "repeat_interleave backward", grad_output,
      [&] { cpu::repeat_interleave_backward(grad_output, split.outer, split.size, split.inner, repeats, grad_input); },
      WISP_CUDA_TWIN(
          cuda::repeat_interleave_backward(grad_output, split.outer, split.size, split.inner, repeats, grad_input)));
  return grad_input;
}

}  // namespace wisp::kernels
