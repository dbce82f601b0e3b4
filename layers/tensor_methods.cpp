// Tensor's math methods (declared in core/tensor.h): thin forwards to layers/functional.h, plus the
// in-place updates, which are never recorded on the tape. (Methods of ops with their own file —
// matmul, repeat_interleave, log_softmax — are defined next to the op.)
#include "autograd/grad_mode.h"
#include "kernels/elementwise.h"
#include "layers/functional.h"

namespace wisp {

Tensor Tensor::view(const Shape& shape) const { return wisp::view(*this, shape); }
Tensor Tensor::reshape(const Shape& shape) const { return wisp::reshape(*this, shape); }
Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const { return wisp::flatten(*this, start_dim, end_dim); }
Tensor Tensor::sum() const { return wisp::sum(*this); }
Tensor Tensor::sum(int64_t dim, bool keepdim) const { return wisp::sum(*this, dim, keepdim); }
Tensor Tensor::mean() const { return wisp::mean(*this); }
Tensor Tensor::mean(int64_t dim, bool keepdim) const { return wisp::mean(*this, dim, keepdim); }
Tensor Tensor::relu() const { return wisp::relu(*this); }
Tensor Tensor::argmax() const { return wisp::argmax(*this); }
Tensor Tensor::argmax(int64_t dim, bool keepdim) const { return wisp::argmax(*this, dim, keepdim); }

namespace {

// In-place updates bypass the tape, so they are refused where the tape would need to see them:
// on tensors that require grad while recording is on (PyTorch refuses the same).
// Counts the update in the storage's version, which backward checks for the tensors ops saved.
void check_in_place(const char* op, const Tensor& self) {
  WISP_CHECK(self.defined(), op, ": called on an undefined tensor");
  WISP_CHECK(!(GradMode::is_enabled() && self.requires_grad()), op,
             ": in-place update of a tensor that requires grad while gradients are recorded; wrap the update "
             "in NoGradGuard (as optimizers do), or update a tensor that does not require grad");
  self.bump_version();
}

}  // namespace

const Tensor& Tensor::add_(const Tensor& other, double alpha) const {
  check_in_place("add_", *this);
  if (alpha == 1.0) {
    kernels::binary_(kernels::BinaryOp::Add, *this, other);
  } else {
    kernels::binary_(kernels::BinaryOp::Add, *this, kernels::binary_scalar(kernels::BinaryOp::Mul, other, alpha));
  }
  return *this;
}

const Tensor& Tensor::sub_(const Tensor& other) const {
  check_in_place("sub_", *this);
  kernels::binary_(kernels::BinaryOp::Sub, *this, other);
  return *this;
}

const Tensor& Tensor::mul_(const Tensor& other) const {
  check_in_place("mul_", *this);
  kernels::binary_(kernels::BinaryOp::Mul, *this, other);
  return *this;
}

const Tensor& Tensor::add_(double value) const {
  check_in_place("add_", *this);
  kernels::binary_scalar_(kernels::BinaryOp::Add, *this, value);
  return *this;
}

const Tensor& Tensor::sub_(double value) const {
  check_in_place("sub_", *this);
  kernels::binary_scalar_(kernels::BinaryOp::Sub, *this, value);
  return *this;
}

const Tensor& Tensor::mul_(double value) const {
  check_in_place("mul_", *this);
  kernels::binary_scalar_(kernels::BinaryOp::Mul, *this, value);
  return *this;
}

const Tensor& Tensor::fill_(double value) const {
  check_in_place("fill_", *this);
  kernels::fill_(*this, value);
  return *this;
}

const Tensor& Tensor::zero_() const { return fill_(0.0); }

const Tensor& Tensor::copy_(const Tensor& source) const {
  check_in_place("copy_", *this);
  WISP_CHECK(source.shape() == shape(), "copy_: expected a source of shape ", shape(), " but got ", source.shape());
  Tensor converted = source.dtype() == dtype() ? source : kernels::cast(source, dtype());
  copy_bytes(raw_data(), device(), converted.raw_data(), converted.device(), nbytes());
  return *this;
}

}  // namespace wisp
