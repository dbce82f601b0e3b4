#include "wisp/kernels/reduce.h"

#include "wisp/kernels/cpu/reduce.h"
#include "wisp/kernels/dispatch.h"
#if WISP_WITH_CUDA
#include "wisp/kernels/cuda/reduce.h"
#endif

namespace wisp::kernels {
namespace {

Shape reduced_shape(const Shape& shape, int64_t dim, bool keepdim) {
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d != dim) dims.push_back(shape[static_cast<size_t>(d)]);
    else if (keepdim) dims.push_back(1);
  }
  return Shape(dims);
}

DType sum_dtype(DType input) { return is_floating_point(input) ? input : DType::Int64; }

}  // namespace

Tensor sum_all(const Tensor& a) {
  Tensor out = empty(Shape{}, TensorOptions(sum_dtype(a.dtype())).device(a.device()));
  dispatch(
      "sum", a, [&] { cpu::sum_all(a, out); }, WISP_CUDA_TWIN(cuda::sum_all(a, out)));
  return out;
}

Tensor sum_dim(const Tensor& a, int64_t dim, bool keepdim) {
  const DimensionSplit split = split_at(a.shape(), dim);
  Tensor out = empty(reduced_shape(a.shape(), dim, keepdim), TensorOptions(sum_dtype(a.dtype())).device(a.device()));
  dispatch(
      "sum", a, [&] { cpu::sum_dim(a, split.outer, split.size, split.inner, out); },
      WISP_CUDA_TWIN(cuda::sum_dim(a, split.outer, split.size, split.inner, out)));
  return out;
}

Tensor expand_dim(const Tensor& g, const Shape& shape, int64_t dim) {
  const DimensionSplit split = split_at(shape, dim);
  WISP_CHECK(g.numel() == split.outer * split.inner, "expand_dim: expected ", split.outer * split.inner,
             " gradient elements for shape ", shape, " reduced over dimension ", dim, " but got ", g.numel());
  Tensor out = empty(shape, TensorOptions(g.dtype()).device(g.device()));
  dispatch(
      "sum backward", g, [&] { cpu::expand_dim(g, split.outer, split.size, split.inner, out); },
      WISP_CUDA_TWIN(cuda::expand_dim(g, split.outer, split.size, split.inner, out)));
  return out;
}

Tensor argmax_dim(const Tensor& a, int64_t dim, bool keepdim) {
  const DimensionSplit split = split_at(a.shape(), dim);
  WISP_CHECK(split.size > 0, "argmax: expected a non-empty dimension ", dim, " but the input has shape ", a.shape());
  Tensor out = empty(reduced_shape(a.shape(), dim, keepdim), TensorOptions(DType::Int64).device(a.device()));
  dispatch(
      "argmax", a, [&] { cpu::argmax_dim(a, split.outer, split.size, split.inner, out); },
      WISP_CUDA_TWIN(cuda::argmax_dim(a, split.outer, split.size, split.inner, out)));
  return out;
}

}  // namespace wisp::kernels
