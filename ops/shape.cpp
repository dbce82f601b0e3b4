// Shape ops with autograd that share storage (view, reshape, flatten), and device/dtype transfers.
#include "wisp/ops/shape.h"
#include "wisp/autograd/tape.h"
#include "wisp/kernels/elementwise.h"

namespace wisp {
namespace {

// Resolves a requested view shape (at most one -1) against `numel` elements.
Shape infer_view_shape(const Shape& from, const Shape& requested) {
  std::vector<int64_t> dims = requested.dims();
  int inferred = -1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      WISP_CHECK(inferred < 0, "view: only one dimension can be inferred (-1), but got shape ", requested);
      inferred = static_cast<int>(i);
    } else {
      WISP_CHECK(dims[i] >= 0, "view: invalid size ", dims[i], " in shape ", requested);
    }
  }
  std::vector<int64_t> known_dims = dims;  // the sizes given; Shape::numel checks their product
  if (inferred >= 0) known_dims.erase(known_dims.begin() + inferred);
  int64_t known = 0;
  try {
    known = Shape(known_dims).numel();
  } catch (const Error&) {
    WISP_FAIL("view: shape ", requested, " has more elements than int64 can count");
  }
  const int64_t numel = from.numel();
  if (inferred >= 0) {
    WISP_CHECK(known != 0 && numel % known == 0, "view: shape ", requested, " is invalid for input of size ", numel,
               " (shape ", from, ")");
    dims[static_cast<size_t>(inferred)] = numel / known;
  } else {
    WISP_CHECK(known == numel, "view: shape ", requested, " is invalid for input of size ", numel, " (shape ", from,
               ")");
  }
  return Shape(dims);
}

}  // namespace

Tensor view(const Tensor& a, const Shape& shape) {
  const Shape resolved = infer_view_shape(a.shape(), shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = a.impl()->storage;
  impl->offset = a.impl()->offset;
  impl->shape = resolved;
  impl->dtype = a.dtype();
  Tensor out(impl);
  if (!autograd::needs_recording({a})) return out;
  const Shape original = a.shape();
  return autograd::record("ViewBackward", out, {a}, [original](const Tensor& g) -> std::vector<Tensor> {
    NoGradGuard no_grad;
    return {view(g, original)};
  });
}

Tensor reshape(const Tensor& a, const Shape& shape) { return view(a, shape); }

Tensor flatten(const Tensor& a, int64_t start_dim, int64_t end_dim) {
  WISP_CHECK(a.defined(), "flatten: expected a defined tensor");
  // A 0-d tensor takes dimensions in [-1, 0] (as PyTorch) and becomes [1].
  const int64_t start = normalize_dim(start_dim, a.dim(), "flatten");
  const int64_t end = normalize_dim(end_dim, a.dim(), "flatten");
  if (a.dim() == 0) return view(a, {1});
  WISP_CHECK(start <= end, "flatten: start_dim ", start_dim, " must not come after end_dim ", end_dim);
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < start; ++d) dims.push_back(a.size(d));
  int64_t merged = 1;
  for (int64_t d = start; d <= end; ++d) merged *= a.size(d);
  dims.push_back(merged);
  for (int64_t d = end + 1; d < a.dim(); ++d) dims.push_back(a.size(d));
  return view(a, Shape(dims));
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor out = copy_to_device(*this, device);
  if (!autograd::needs_recording({*this})) return out;
  const Device source = this->device();
  return autograd::record("ToDeviceBackward", out, {*this},
                          [source](const Tensor& g) -> std::vector<Tensor> { return {copy_to_device(g, source)}; });
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == this->dtype()) return *this;
  return kernels::cast(*this, dtype);  // only float32 is differentiable, so a cast never records
}

Tensor Tensor::clone() const {
  Tensor out = copy_to_device(*this, device());
  if (!autograd::needs_recording({*this})) return out;
  return autograd::record("CloneBackward", out, {*this}, [](const Tensor& g) -> std::vector<Tensor> { return {g}; });
}

}  // namespace wisp
