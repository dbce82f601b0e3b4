// Tensor's math methods (declared in core/tensor.h): thin forwards to the ops of ops/functional.h, plus the
// in-place updates, which are never recorded on the tape. (Methods of ops with their own file —
// matmul, repeat_interleave, log_softmax, softmax — are defined next to the op.)
#include "wisp/autograd/grad_mode.h"
#include "wisp/kernels/elementwise.h"
#include "wisp/ops/functional.h"

namespace wisp {

Tensor Tensor::view(const Shape& shape) const { return wisp::view(*this, shape); }
Tensor Tensor::reshape(const Shape& shape) const { return wisp::reshape(*this, shape); }
Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const { return wisp::flatten(*this, start_dim, end_dim); }
Tensor Tensor::sum() const { return wisp::sum(*this); }
Tensor Tensor::sum(int64_t dim, bool keepdim) const { return wisp::sum(*this, dim, keepdim); }
Tensor Tensor::mean() const { return wisp::mean(*this); }
Tensor Tensor::mean(int64_t dim, bool keepdim) const { return wisp::mean(*this, dim, keepdim); }
Tensor Tensor::relu() const { return wisp::relu(*this); }
Tensor Tensor::tanh() const { return wisp::tanh(*this); }
Tensor Tensor::sigmoid() const { return wisp::sigmoid(*this); }
Tensor Tensor::abs() const { return wisp::abs(*this); }
Tensor Tensor::clamp(const std::optional<double>& min, const std::optional<double>& max) const {
  return wisp::clamp(*this, min, max);
}
Tensor Tensor::argmax() const { return wisp::argmax(*this); }
Tensor Tensor::argmax(int64_t dim, bool keepdim) const { return wisp::argmax(*this, dim, keepdim); }

namespace {

// In-place updates bypass the tape, so they are refused where the tape would need to see them while
// recording is on: on a tensor that requires grad (PyTorch refuses the same), and with an operand
// that requires grad (its gradient would be silently lost; PyTorch records such an update instead).
void check_in_place(const char* op, const Tensor& self, const Tensor& operand) {
  WISP_CHECK(self.defined(), op, ": called on an undefined tensor");
  WISP_CHECK(!(GradMode::is_enabled() && self.requires_grad()), op,
             ": in-place update of a tensor that requires grad while gradients are recorded; wrap the update "
             "in NoGradGuard (as optimizers do), or update a tensor that does not require grad");
  WISP_CHECK(!(GradMode::is_enabled() && operand.defined() && operand.requires_grad()), op,
             ": the operand requires grad, and an in-place update is not recorded, so its gradient would be lost; "
             "use the out-of-place op (a = a + b), or wrap the update in NoGradGuard");
}

// Checks, runs update(), then counts it in the storage's version, which backward checks for the
// tensors ops saved. An update that throws (bad shape, dtype or scalar) changed nothing and is not
// counted.
template <class Update>
const Tensor& update_in_place(const char* op, const Tensor& self, const Tensor& operand, Update update) {
  check_in_place(op, self, operand);
  update();
  self.bump_version();
  return self;
}

}  // namespace

const Tensor& Tensor::add_(const Tensor& other, double alpha) const {
  return update_in_place("add_", *this, other, [&] {
    if (alpha == 1.0) {
      kernels::binary_(kernels::BinaryOp::Add, *this, other);
    } else {
      kernels::binary_(kernels::BinaryOp::Add, *this, kernels::binary_scalar(kernels::BinaryOp::Mul, other, alpha));
    }
  });
}

const Tensor& Tensor::sub_(const Tensor& other) const {
  return update_in_place("sub_", *this, other, [&] { kernels::binary_(kernels::BinaryOp::Sub, *this, other); });
}

const Tensor& Tensor::mul_(const Tensor& other) const {
  return update_in_place("mul_", *this, other, [&] { kernels::binary_(kernels::BinaryOp::Mul, *this, other); });
}

const Tensor& Tensor::add_(double value) const {
  return update_in_place("add_", *this, Tensor(),
                         [&] { kernels::binary_scalar_(kernels::BinaryOp::Add, *this, value); });
}

const Tensor& Tensor::sub_(double value) const {
  return update_in_place("sub_", *this, Tensor(),
                         [&] { kernels::binary_scalar_(kernels::BinaryOp::Sub, *this, value); });
}

const Tensor& Tensor::mul_(double value) const {
  return update_in_place("mul_", *this, Tensor(),
                         [&] { kernels::binary_scalar_(kernels::BinaryOp::Mul, *this, value); });
}

const Tensor& Tensor::fill_(double value) const {
  return update_in_place("fill_", *this, Tensor(), [&] { kernels::fill_(*this, value); });
}

const Tensor& Tensor::zero_() const { return fill_(0.0); }

const Tensor& Tensor::copy_(const Tensor& source) const {
  return update_in_place("copy_", *this, source, [&] {
    WISP_CHECK(source.shape() == shape(), "copy_: expected a source of shape ", shape(), " but got ", source.shape());
    Tensor converted = source.dtype() == dtype() ? source : kernels::cast(source, dtype());
    copy_bytes(raw_data(), device(), converted.raw_data(), converted.device(), nbytes());
  });
}

}  // namespace wisp
