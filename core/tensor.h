// Tensor: a handle to an n-dimensional, row-major, contiguous array on one device.
//
// Copying a Tensor copies the handle, not the data (like PyTorch): `Tensor b = a;` makes b and a
// the same tensor. view/reshape/flatten return tensors sharing the storage; every other op that
// changes layout returns new storage. Tensors are always contiguous.
//
// The math methods declared here (sum, view, relu, to, clone, the in-place add_, ...) are
// conveniences for the differentiable ops of ops/ (ops/functional.h): they are defined in
// ops/tensor_methods.cpp, and matmul, repeat_interleave, log_softmax, to and clone beside their ops
// (ops/linear.cpp, ops/indexing.cpp, ops/loss.cpp, ops/shape.cpp). core/ itself never calls them. Autograd state
// (requires_grad, the producing tape entry, the gradient) lives in TensorImpl; the engine that uses it is autograd/.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wisp/core/device.h"
#include "wisp/core/dtype.h"
#include "wisp/core/error.h"
#include "wisp/core/shape.h"
#include "wisp/core/storage.h"
#include "wisp/core/update_hook.h"

namespace wisp {

namespace autograd {
struct Node;
}

// The shared state behind Tensor handles.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements, from the start of storage (views of views share storage)
  Shape shape;
  DType dtype = DType::Float32;

  // Autograd. A leaf is a tensor without grad_fn; leaves with requires_grad accumulate .grad.
  bool requires_grad = false;
  std::shared_ptr<autograd::Node> grad_fn;  // the tape entry that produced this tensor, if recorded
  std::shared_ptr<TensorImpl> grad;         // accumulated gradient (leaves only)

  // Called by whoever updates this tensor in place as a trained parameter (core/update_hook.h);
  // held weakly.
  std::weak_ptr<TensorUpdateHook> update_hook;
};

// Construction options for factories: a dtype and a device, each implicitly convertible, so that
// zeros({2, 3}), zeros({2, 3}, DType::Int64), zeros({2, 3}, device) and
// zeros({2, 3}, TensorOptions().dtype(DType::Int64).device(device)) all work.
class TensorOptions {
 public:
  TensorOptions() = default;
  TensorOptions(DType dtype) : dtype_(dtype) {}      // NOLINT: implicit by design
  TensorOptions(Device device) : device_(device) {}  // NOLINT: implicit by design
  TensorOptions& dtype(DType dtype) {
    dtype_ = dtype;
    return *this;
  }
  TensorOptions& device(Device device) {
    device_ = device;
    return *this;
  }
  TensorOptions& requires_grad(bool value) {
    requires_grad_ = value;
    return *this;
  }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool requires_grad() const { return requires_grad_; }

 private:
  DType dtype_ = DType::Float32;
  Device device_ = Device::cpu();
  bool requires_grad_ = false;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }

  // ---- metadata -----------------------------------------------------------------------------
  const Shape& shape() const { return checked().shape; }
  const Shape& sizes() const { return shape(); }
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t dim) const;  // negative dims count from the end
  int64_t numel() const { return shape().numel(); }
  DType dtype() const { return checked().dtype; }
  Device device() const { return checked().storage->device(); }
  bool is_cpu() const { return device().is_cpu(); }
  bool is_cuda() const { return device().is_cuda(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * element_size(dtype()); }

  // ---- raw data (CPU) -----------------------------------------------------------------------
  // Pointer to the first element; T must match dtype() and the tensor must be on the CPU.
  template <class T>
  T* data() const;
  void* raw_data() const;  // device pointer for any dtype and device
  // The single element of a one-element tensor, converted to T (any dtype, any device).
  template <class T>
  T item() const;
  // A copy of all elements in row-major order; T must match dtype() (any device).
  template <class T>
  std::vector<T> to_vector() const;
  // Reference to one element of a CPU tensor: t.at<float>(i, j). Indices are checked.
  template <class T, class... Index>
  T& at(Index... index) const;

  // ---- copies and conversions -----------------------------------------------------------------
  Tensor to(Device device) const;  // this tensor if already there; differentiable
  Tensor to(DType dtype) const;    // this tensor if already that dtype; differentiable float->float only
  Tensor clone() const;            // new storage with the same values; differentiable
  Tensor detach() const;           // shares storage, cut from the tape, requires_grad false
  Tensor cpu() const { return to(Device::cpu()); }

  // ---- autograd ------------------------------------------------------------------------------
  bool requires_grad() const { return checked().requires_grad; }
  // Marks a leaf as needing gradients (Float32 only). Returns *this for chaining.
  const Tensor& set_requires_grad(bool requires_grad) const;
  bool is_leaf() const { return checked().grad_fn == nullptr; }
  // The accumulated gradient of a leaf; undefined until a backward pass reaches it.
  Tensor grad() const;
  // Replaces .grad (an undefined Tensor clears it): same shape, dtype and device; neither the tensor
  // itself nor a tensor that requires grad.
  void set_grad(const Tensor& grad) const;
  // Back-propagates from this tensor: one element unless `gradient` (same shape) is given.
  void backward(const Tensor& gradient = Tensor()) const;
  // Name of the tape entry that produced this tensor ("MulBackward"), or "" for a leaf.
  std::string grad_fn_name() const;
  // The storage's count of in-place updates (core/storage.h), shared by views and detach()ed
  // copies. An in-place op written outside Tensor's methods calls bump_version() on its output.
  uint64_t version() const { return checked().storage->version(); }
  void bump_version() const { checked().storage->bump_version(); }
  // The hook that optimizers call after updating this tensor (core/update_hook.h), held weakly;
  // null when there is none or it no longer exists. Layers set it on their parameters; one hook per
  // tensor (setting another replaces it), shared by its shallow copies.
  std::shared_ptr<TensorUpdateHook> update_hook() const { return checked().update_hook.lock(); }
  void set_update_hook(const std::shared_ptr<TensorUpdateHook>& hook) const {
    checked();  // throws on an undefined tensor
    impl_->update_hook = hook;
  }

  // ---- differentiable methods (ops/tensor_methods.cpp and the ops' own sources) ---------------
  Tensor view(const Shape& shape) const;     // shares storage; one dimension may be -1
  Tensor reshape(const Shape& shape) const;  // same as view (tensors are contiguous)
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor sum() const;
  Tensor sum(int64_t dim, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(int64_t dim, bool keepdim = false) const;
  Tensor relu() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor abs() const;
  Tensor clamp(const std::optional<double>& min, const std::optional<double>& max = std::nullopt) const;
  Tensor matmul(const Tensor& other) const;
  Tensor repeat_interleave(int64_t repeats) const;               // over the flattened tensor
  Tensor repeat_interleave(int64_t repeats, int64_t dim) const;  // along `dim`
  Tensor log_softmax(int64_t dim) const;
  Tensor softmax(int64_t dim) const;

  // ---- non-differentiable methods ---------------------------------------------------------------
  Tensor argmax() const;                                   // index into the flattened tensor, Int64 scalar
  Tensor argmax(int64_t dim, bool keepdim = false) const;  // Int64; ties give the lowest index

  // ---- in-place (never recorded on the tape; an error on tensors that need gradients while
  // gradient recording is on — use NoGradGuard, as optimizers do) ------------------------------
  const Tensor& add_(const Tensor& other, double alpha = 1.0) const;  // this += alpha * other
  const Tensor& sub_(const Tensor& other) const;
  const Tensor& mul_(const Tensor& other) const;
  const Tensor& add_(double value) const;
  const Tensor& sub_(double value) const;
  const Tensor& mul_(double value) const;
  const Tensor& fill_(double value) const;
  const Tensor& zero_() const;
  const Tensor& copy_(const Tensor& source) const;  // same shape; copies across devices and dtypes

 private:
  const TensorImpl& checked() const {
    WISP_CHECK(impl_ != nullptr, "this Tensor is undefined (default-constructed or a missing gradient)");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

// Prints like PyTorch: tensor([[1., 2.], [3., 4.]]) with dtype, device and autograd annotations.
std::ostream& operator<<(std::ostream& stream, const Tensor& tensor);

// A new, uninitialised tensor.
Tensor empty(const Shape& shape, TensorOptions options = {});

// A copy of `tensor`'s values on `device`, not recorded on the tape (Tensor::to is the
// differentiable version). Used by printing and by the device-transfer op.
Tensor copy_to_device(const Tensor& tensor, Device device);

// Throws unless every tensor is defined and on `first`'s device; names the op and both devices.
void check_same_device(const char* op, const Tensor& first, const Tensor& second);
// Throws unless `tensor` has `dtype`; names the op, the argument and both dtypes.
void check_dtype(const char* op, const char* argument, const Tensor& tensor, DType dtype);
// Throws unless `tensor` is defined with `dtype` and `shape`; names the op, the argument and what differs.
// The dispatch points (kernels/*.cpp) check every operand a kernel reads this way, so that a kernel
// called directly cannot read or write past a tensor.
void check_operand(const char* op, const char* argument, const Tensor& tensor, DType dtype, const Shape& shape);

// ---- template definitions ----------------------------------------------------------------------

template <class T>
T* Tensor::data() const {
  WISP_CHECK(dtype() == dtype_of<T>(), "data<", dtype_name(dtype_of<T>()), ">(): expected a tensor of dtype ",
             dtype_of<T>(), " but got ", dtype());
  WISP_CHECK(is_cpu(), "data<T>(): expected a CPU tensor but got one on ", device(), "; call .cpu() first");
  return static_cast<T*>(raw_data());
}

template <class T>
T Tensor::item() const {
  WISP_CHECK(numel() == 1, "item(): expected a tensor with one element but got shape ", shape());
  return visit_dtype(dtype(), [&](auto tag) {
    using Stored = typename decltype(tag)::type;
    Stored value{};
    copy_bytes(&value, Device::cpu(), raw_data(), device(), sizeof(Stored));
    return static_cast<T>(value);
  });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  WISP_CHECK(dtype() == dtype_of<T>(), "to_vector<", dtype_name(dtype_of<T>()), ">(): expected a tensor of dtype ",
             dtype_of<T>(), " but got ", dtype());
  std::vector<T> values(static_cast<size_t>(numel()));
  copy_bytes(values.data(), Device::cpu(), raw_data(), device(), nbytes());
  return values;
}

template <class T, class... Index>
T& Tensor::at(Index... index) const {
  const std::array<int64_t, sizeof...(Index)> indices{static_cast<int64_t>(index)...};
  WISP_CHECK(static_cast<int64_t>(sizeof...(Index)) == dim(), "at(): expected ", dim(), " indices for shape ", shape(),
             " but got ", sizeof...(Index));
  int64_t flat = 0;
  for (size_t d = 0; d < sizeof...(Index); ++d) {
    WISP_CHECK(indices[d] >= 0 && indices[d] < shape()[d], "at(): index ", indices[d], " out of range [0, ", shape()[d],
               ") in dimension ", d, " of shape ", shape());
    flat = flat * shape()[d] + indices[d];
  }
  return data<T>()[flat];
}

}  // namespace wisp
