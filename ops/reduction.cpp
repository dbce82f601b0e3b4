// Reductions with autograd (sum, mean) and argmax.
#include "wisp/ops/reduction.h"
#include "wisp/autograd/tape.h"
#include "wisp/core/factories.h"
#include "wisp/kernels/elementwise.h"
#include "wisp/kernels/reduce.h"
#include "wisp/ops/elementwise.h"  // mean is sum times a scalar

namespace wisp {

Tensor sum(const Tensor& a) {
  Tensor out = kernels::sum_all(a);
  if (!autograd::needs_recording({a})) return out;
  const Shape shape = a.shape();
  return autograd::record("SumBackward", out, {a}, [shape](const Tensor& g) -> std::vector<Tensor> {
    Tensor grad = empty(shape, TensorOptions(g.dtype()).device(g.device()));
    kernels::fill_(grad, g.item<float>());
    return {grad};
  });
}

Tensor sum(const Tensor& a, int64_t dim, bool keepdim) {
  const int64_t d = normalize_dim(dim, a.dim(), "sum");  // a 0-d tensor takes dim 0 or -1
  if (a.dim() == 0) return sum(a.view({1}), 0, false);   // its one element, 0-d, as PyTorch
  Tensor out = kernels::sum_dim(a, d, keepdim);
  if (!autograd::needs_recording({a})) return out;
  const Shape shape = a.shape();
  return autograd::record("SumBackward", out, {a}, [shape, d](const Tensor& g) -> std::vector<Tensor> {
    return {kernels::expand_dim(g, shape, d)};
  });
}

Tensor mean(const Tensor& a) {
  check_dtype("mean", "input", a, DType::Float32);
  WISP_CHECK(a.numel() > 0, "mean: expected a non-empty tensor but got shape ", a.shape());
  return sum(a) * (1.0 / static_cast<double>(a.numel()));
}

Tensor mean(const Tensor& a, int64_t dim, bool keepdim) {
  check_dtype("mean", "input", a, DType::Float32);
  const int64_t d = normalize_dim(dim, a.dim(), "mean");
  const int64_t size = a.dim() == 0 ? 1 : a.shape()[static_cast<size_t>(d)];
  WISP_CHECK(size > 0, "mean: expected a non-empty dimension ", dim, " but the input has shape ", a.shape());
  return sum(a, dim, keepdim) * (1.0 / static_cast<double>(size));
}

Tensor argmax(const Tensor& a) {
  WISP_CHECK(a.numel() > 0, "argmax: expected a non-empty tensor but got shape ", a.shape());
  return kernels::argmax_dim(a.detach().view({a.numel()}), 0, false);
}

Tensor argmax(const Tensor& a, int64_t dim, bool keepdim) {
  const int64_t d = normalize_dim(dim, a.dim(), "argmax");  // a 0-d tensor takes dim 0 or -1: index 0
  if (a.dim() == 0) return kernels::argmax_dim(a.detach().view({1}), 0, false);
  return kernels::argmax_dim(a, d, keepdim);
}

}  // namespace wisp
