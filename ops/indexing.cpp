// Ops with autograd that copy elements into a new layout: cat and repeat_interleave.
#include "wisp/ops/indexing.h"
#include "wisp/autograd/tape.h"
#include "wisp/kernels/shape.h"

namespace wisp {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  // The dimension is resolved against tensor 0; kernels::cat checks every tensor against it.
  WISP_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  WISP_CHECK(tensors.front().defined(), "cat: expected defined tensors but tensor 0 is undefined");
  WISP_CHECK(tensors.front().dim() > 0,
             "cat: zero-dimensional tensor (at index 0) cannot be concatenated; view it "
             "as [1] first");
  const int64_t d = normalize_dim(dim, tensors.front().dim(), "cat");
  Tensor out = kernels::cat(tensors, d);
  if (!autograd::needs_recording(tensors)) return out;

  // Saved: only the input shapes (each gradient is a slice of the output's gradient).
  std::vector<Shape> shapes;
  std::vector<bool> needed;
  for (const Tensor& t : tensors) {
    shapes.push_back(t.shape());
    needed.push_back(t.requires_grad());
  }
  return autograd::record("CatBackward", out, tensors, [=](const Tensor& g) -> std::vector<Tensor> {
    return kernels::cat_backward(g, d, shapes, needed);
  });
}

namespace {

// Repeats `a`, seen with `working_shape` (its own shape, or [numel] when flattening), along `dim`
// of that shape. The gradient sums each group of `repeats` and is reshaped back to a's shape.
Tensor repeat_along(const Tensor& a, const Shape& working_shape, int64_t repeats, int64_t dim) {
  const Tensor source = working_shape == a.shape() ? a.detach() : a.detach().view(working_shape);
  Tensor out = kernels::repeat_interleave(source, repeats, dim);
  if (!autograd::needs_recording({a})) return out;
  const Shape input_shape = a.shape();
  return autograd::record("RepeatInterleaveBackward", out, {a}, [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor grad = kernels::repeat_interleave_backward(g, working_shape, repeats, dim);
    return {grad.shape() == input_shape ? grad : grad.view(input_shape)};
  });
}

}  // namespace

Tensor repeat_interleave(const Tensor& a, int64_t repeats) {
  WISP_CHECK(a.defined(), "repeat_interleave: expected a defined tensor");
  return repeat_along(a, Shape{a.numel()}, repeats, 0);
}

Tensor repeat_interleave(const Tensor& a, int64_t repeats, int64_t dim) {
  WISP_CHECK(a.defined(), "repeat_interleave: expected a defined tensor");
  const int64_t d = normalize_dim(dim, a.dim(), "repeat_interleave");
  // A 0-dimensional tensor repeats like a one-element vector (as in PyTorch).
  const Shape working_shape = a.dim() == 0 ? Shape{1} : a.shape();
  return repeat_along(a, working_shape, repeats, d);
}

Tensor Tensor::repeat_interleave(int64_t repeats) const { return wisp::repeat_interleave(*this, repeats); }
Tensor Tensor::repeat_interleave(int64_t repeats, int64_t dim) const {
  return wisp::repeat_interleave(*this, repeats, dim);
}

}  // namespace wisp
