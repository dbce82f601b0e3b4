#include "wisp/kernels/elementwise.h"

#include <cmath>

#include "wisp/kernels/cpu/elementwise.h"
#include "wisp/kernels/dispatch.h"
#if WISP_WITH_CUDA
#include "wisp/kernels/cuda/elementwise.h"
#endif

namespace wisp::kernels {

namespace {
void check_binary_operands(const char* op, const Tensor& a, const Tensor& b) {
  check_same_device(op, a, b);
  WISP_CHECK(a.dtype() == b.dtype(), op, ": expected both operands of the same dtype but got ", a.dtype(), " and ",
             b.dtype());
}
void check_division(BinaryOp op, DType dtype) {
  WISP_CHECK(op != BinaryOp::Div || dtype == DType::Float32, "div: expected float32 operands but got ", dtype,
             " (integer division is not supported; cast with .to(DType::Float32))");
}
// A float32 tensor takes any scalar float32 can hold (infinities and NaN included); a finite one
// beyond float's range would have no float32 value.
void check_scalar_fits_float(const char* op, DType dtype, double scalar) {
  WISP_CHECK(!is_floating_point(dtype) || holds_value(dtype, scalar), op, ": the scalar ", scalar,
             " is outside the range of ", dtype);
}
// An integer tensor keeps its dtype when combined with a scalar, so the scalar must be a whole number
// it can hold (0.5 would silently become 0).
void check_scalar(BinaryOp op, DType dtype, double scalar) {
  WISP_CHECK(is_floating_point(dtype) || holds_value(dtype, scalar), binary_op_name(op), ": the scalar ", scalar,
             " cannot combine with a tensor of dtype ", dtype, ", whose result stays ", dtype,
             " (expected a whole number the dtype can hold; cast the tensor with .to(DType::Float32) first)");
}
}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_op_name(op);
  check_binary_operands(name, a, b);
  check_division(op, a.dtype());
  Tensor out = empty(broadcast_shapes(a.shape(), b.shape(), name), TensorOptions(a.dtype()).device(a.device()));
  dispatch(
      name, a, [&] { cpu::binary(op, a, b, out); }, WISP_CUDA_TWIN(cuda::binary(op, a, b, out)));
  return out;
}

void binary_(BinaryOp op, const Tensor& self, const Tensor& other) {
  const char* name = binary_op_name(op);
  check_binary_operands(name, self, other);
  check_division(op, self.dtype());
  const Shape shape = broadcast_shapes(self.shape(), other.shape(), name);
  WISP_CHECK(shape == self.shape(), name, "_: the result of shape ", shape, " does not fit in the tensor of shape ",
             self.shape(), " being updated in place");
  dispatch(
      name, self, [&] { cpu::binary(op, self, other, self); }, WISP_CUDA_TWIN(cuda::binary(op, self, other, self)));
}

Tensor binary_scalar(BinaryOp op, const Tensor& a, double scalar, bool scalar_first) {
  check_division(op, a.dtype());
  check_scalar(op, a.dtype(), scalar);
  Tensor out = empty(a.shape(), TensorOptions(a.dtype()).device(a.device()));
  dispatch(
      binary_op_name(op), a, [&] { cpu::binary_scalar(op, a, scalar, scalar_first, out); },
      WISP_CUDA_TWIN(cuda::binary_scalar(op, a, scalar, scalar_first, out)));
  return out;
}

void binary_scalar_(BinaryOp op, const Tensor& self, double scalar) {
  check_division(op, self.dtype());
  check_scalar(op, self.dtype(), scalar);
  dispatch(
      binary_op_name(op), self, [&] { cpu::binary_scalar(op, self, scalar, false, self); },
      WISP_CUDA_TWIN(cuda::binary_scalar(op, self, scalar, false, self)));
}

Tensor unary(UnaryOp op, const Tensor& a) {
  check_dtype("unary op", "input", a, DType::Float32);
  Tensor out = empty(a.shape(), TensorOptions(a.dtype()).device(a.device()));
  dispatch(
      "unary op", a, [&] { cpu::unary(op, a, out); }, WISP_CUDA_TWIN(cuda::unary(op, a, out)));
  return out;
}

Tensor unary_backward(UnaryOp op, const Tensor& grad_output, const Tensor& saved) {
  check_same_device("unary op backward", grad_output, saved);
  check_dtype("unary op backward", "saved", saved, DType::Float32);
  check_operand("unary op backward", "grad_output", grad_output, DType::Float32, saved.shape());
  Tensor out = empty(saved.shape(), TensorOptions(DType::Float32).device(saved.device()));
  dispatch(
      "unary op backward", saved, [&] { cpu::unary_backward(op, grad_output, saved, out); },
      WISP_CUDA_TWIN(cuda::unary_backward(op, grad_output, saved, out)));
  return out;
}

Tensor relu_backward(const Tensor& grad_output, const Tensor& input) {
  check_same_device("relu_backward", grad_output, input);
  check_dtype("relu_backward", "input", input, DType::Float32);
  check_operand("relu_backward", "grad_output", grad_output, DType::Float32, input.shape());
  Tensor out = empty(input.shape(), TensorOptions(input.dtype()).device(input.device()));
  dispatch(
      "relu_backward", input, [&] { cpu::relu_backward(grad_output, input, out); },
      WISP_CUDA_TWIN(cuda::relu_backward(grad_output, input, out)));
  return out;
}

Tensor compare(CompareOp op, const Tensor& a, const Tensor& b) {
  const char* name = compare_op_name(op);
  check_binary_operands(name, a, b);
  Tensor out = empty(broadcast_shapes(a.shape(), b.shape(), name), TensorOptions(DType::UInt8).device(a.device()));
  dispatch(
      name, a, [&] { cpu::compare(op, a, b, out); }, WISP_CUDA_TWIN(cuda::compare(op, a, b, out)));
  return out;
}

Tensor compare_scalar(CompareOp op, const Tensor& a, double scalar) {
  const char* name = compare_op_name(op);
  WISP_CHECK(a.defined(), name, ": expected a defined tensor");
  WISP_CHECK(is_floating_point(a.dtype()) || holds_value(a.dtype(), scalar), name, ": the scalar ", scalar,
             " cannot be compared with a tensor of dtype ", a.dtype(),
             " (expected a whole number the dtype can hold; cast the tensor with .to(DType::Float32) first)");
  check_scalar_fits_float(name, a.dtype(), scalar);
  Tensor out = empty(a.shape(), TensorOptions(DType::UInt8).device(a.device()));
  dispatch(
      name, a, [&] { cpu::compare_scalar(op, a, scalar, out); },
      WISP_CUDA_TWIN(cuda::compare_scalar(op, a, scalar, out)));
  return out;
}

Tensor equal(const Tensor& a, const Tensor& b) { return compare(CompareOp::Eq, a, b); }

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  check_same_device("where", condition, a);
  check_same_device("where", condition, b);
  check_dtype("where", "condition", condition, DType::UInt8);
  WISP_CHECK(a.dtype() == b.dtype(), "where: expected both values of the same dtype but got ", a.dtype(), " and ",
             b.dtype());
  const Shape shape = broadcast_shapes(condition.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor out = empty(shape, TensorOptions(a.dtype()).device(a.device()));
  dispatch(
      "where", a, [&] { cpu::where(condition, a, b, out); }, WISP_CUDA_TWIN(cuda::where(condition, a, b, out)));
  return out;
}

namespace {
void check_clamp_bounds(const char* op, DType dtype, const std::optional<double>& min,
                        const std::optional<double>& max) {
  for (const std::optional<double>& bound : {min, max}) {
    if (!bound) continue;
    WISP_CHECK(!std::isnan(*bound), op, ": expected bounds that are not NaN but got ", *bound);
    WISP_CHECK(is_floating_point(dtype) || holds_value(dtype, *bound), op, ": the bound ", *bound,
               " cannot clamp a tensor of dtype ", dtype,
               " (expected a whole number the dtype can hold; cast the tensor with .to(DType::Float32) first)");
    check_scalar_fits_float(op, dtype, *bound);
  }
}
}  // namespace

Tensor clamp(const Tensor& a, const std::optional<double>& min, const std::optional<double>& max) {
  WISP_CHECK(a.defined(), "clamp: expected a defined tensor");
  check_clamp_bounds("clamp", a.dtype(), min, max);
  Tensor out = empty(a.shape(), TensorOptions(a.dtype()).device(a.device()));
  dispatch(
      "clamp", a, [&] { cpu::clamp(a, min, max, out); }, WISP_CUDA_TWIN(cuda::clamp(a, min, max, out)));
  return out;
}

Tensor clamp_backward(const Tensor& grad_output, const Tensor& input, const std::optional<double>& min,
                      const std::optional<double>& max) {
  check_same_device("clamp backward", grad_output, input);
  check_dtype("clamp backward", "input", input, DType::Float32);
  check_operand("clamp backward", "grad_output", grad_output, DType::Float32, input.shape());
  check_clamp_bounds("clamp backward", input.dtype(), min, max);
  Tensor out = empty(input.shape(), TensorOptions(DType::Float32).device(input.device()));
  dispatch(
      "clamp backward", input, [&] { cpu::clamp_backward(grad_output, input, min, max, out); },
      WISP_CUDA_TWIN(cuda::clamp_backward(grad_output, input, min, max, out)));
  return out;
}

Tensor cast(const Tensor& a, DType dtype) {
  WISP_CHECK((a.dtype() != DType::BFloat16 && dtype != DType::BFloat16) || a.dtype() == DType::Float32 ||
                 dtype == DType::Float32,
             "cast: bfloat16 converts to and from float32 only, but got ", a.dtype(), " to ", dtype);
  Tensor out = empty(a.shape(), TensorOptions(dtype).device(a.device()));
  dispatch(
      "cast", a, [&] { cpu::cast(a, out); }, WISP_CUDA_TWIN(cuda::cast(a, out)));
  return out;
}

void fill_(const Tensor& self, double value) {
  check_holds_value("fill_", "value", self.dtype(), value);
  dispatch(
      "fill_", self, [&] { cpu::fill(self, value); }, WISP_CUDA_TWIN(cuda::fill(self, value)));
}

Tensor sum_to_shape(const Tensor& a, const Shape& shape) {
  if (a.shape() == shape) return a;
  check_dtype("sum_to_shape", "input", a, DType::Float32);
  // `shape` must broadcast to a's shape itself (not merely be compatible with it): summing
  // [2, 1] "to" [1, 3] has no meaning.
  WISP_CHECK(broadcast_shapes(shape, a.shape(), "sum_to_shape") == a.shape(), "sum_to_shape: expected a shape that ",
             "broadcasts to the input's shape ", a.shape(), " but got ", shape);
  Tensor out = empty(shape, TensorOptions(a.dtype()).device(a.device()));
  dispatch(
      "sum_to_shape", a, [&] { cpu::sum_to_shape(a, out); }, WISP_CUDA_TWIN(cuda::sum_to_shape(a, out)));
  return out;
}

}  // namespace wisp::kernels
