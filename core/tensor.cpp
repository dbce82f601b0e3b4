#include "wisp/core/tensor.h"

namespace wisp {

int64_t Tensor::size(int64_t dim) const {
  WISP_CHECK(this->dim() > 0, "size(", dim, "): a scalar (0-dimensional) tensor has no dimensions");
  return shape()[static_cast<size_t>(normalize_dim(dim, this->dim(), "size"))];
}

void* Tensor::raw_data() const {
  const TensorImpl& impl = checked();
  if (impl.storage->data() == nullptr) return nullptr;
  return static_cast<char*>(impl.storage->data()) + impl.offset * static_cast<int64_t>(element_size(impl.dtype));
}

Tensor Tensor::detach() const {
  const TensorImpl& impl = checked();
  auto detached = std::make_shared<TensorImpl>();
  detached->storage = impl.storage;
  detached->offset = impl.offset;
  detached->shape = impl.shape;
  detached->dtype = impl.dtype;
  return Tensor(detached);
}

const Tensor& Tensor::set_requires_grad(bool requires_grad) const {
  checked();
  WISP_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can be changed, but this one was produced by ",
             grad_fn_name(), "; use detach() to get a leaf");
  WISP_CHECK(!requires_grad || is_floating_point(dtype()),
             "set_requires_grad: only float32 tensors can require gradients, but this tensor is ", dtype());
  impl_->requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(checked().grad); }

void Tensor::set_grad(const Tensor& grad) const {
  checked();
  if (grad.defined()) {
    WISP_CHECK(grad.shape() == shape(), "set_grad: expected a gradient of shape ", shape(), " but got ", grad.shape());
    WISP_CHECK(grad.dtype() == dtype(), "set_grad: expected a gradient of dtype ", dtype(), " but got ", grad.dtype());
    check_same_device("set_grad", *this, grad);
    // A .grad is plain data: wisp computes first derivatives, and a .grad on the tape (or the tensor
    // itself) would keep a graph, or the tensor, alive through its own gradient.
    WISP_CHECK(grad.impl() != impl_, "set_grad: a tensor cannot be its own gradient; pass a copy (clone())");
    WISP_CHECK(!grad.requires_grad(),
               "set_grad: expected a gradient that does not require grad (wisp computes "
               "first derivatives only); pass grad.detach()");
  }
  impl_->grad = grad.impl();
}

Tensor empty(const Shape& shape, TensorOptions options) {
  const size_t bytes = storage_bytes(shape, options.dtype(), "empty");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(bytes, options.device());
  impl->shape = shape;
  impl->dtype = options.dtype();
  Tensor result(impl);
  if (options.requires_grad()) result.set_requires_grad(true);
  return result;
}

Tensor copy_to_device(const Tensor& tensor, Device device) {
  Tensor result = empty(tensor.shape(), TensorOptions(tensor.dtype()).device(device));
  copy_bytes(result.raw_data(), device, tensor.raw_data(), tensor.device(), tensor.nbytes());
  return result;
}

void check_same_device(const char* op, const Tensor& first, const Tensor& second) {
  WISP_CHECK(first.defined() && second.defined(), op, ": expected defined tensors but got an undefined one");
  WISP_CHECK(first.device() == second.device(), op, ": expected all tensors on the same device, but found ",
             first.device(), " and ", second.device());
}

void check_dtype(const char* op, const char* argument, const Tensor& tensor, DType dtype) {
  WISP_CHECK(tensor.defined(), op, ": expected ", argument, " to be a defined tensor");
  WISP_CHECK(tensor.dtype() == dtype, op, ": expected ", argument, " of dtype ", dtype, " but got ", tensor.dtype());
}

void check_operand(const char* op, const char* argument, const Tensor& tensor, DType dtype, const Shape& shape) {
  check_dtype(op, argument, tensor, dtype);
  WISP_CHECK(tensor.shape() == shape, op, ": expected ", argument, " of shape ", shape, " but got ", tensor.shape());
}

}  // namespace wisp

#include "wisp/core/node.h"

namespace wisp {

std::string Tensor::grad_fn_name() const {
  const TensorImpl& impl = checked();
  return impl.grad_fn ? impl.grad_fn->name : "";
}

}  // namespace wisp
