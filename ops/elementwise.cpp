// Elementwise ops with autograd: arithmetic with broadcasting, scalar arithmetic, unary functions.
#include "wisp/kernels/elementwise.h"
#include "wisp/autograd/tape.h"
#include "wisp/ops/elementwise.h"

namespace wisp {

using kernels::BinaryOp;
using kernels::UnaryOp;

namespace {

void check_float(const char* op, const Tensor& a) {
  WISP_CHECK(a.defined(), op, ": expected a defined tensor");
  WISP_CHECK(a.dtype() == DType::Float32 || !a.requires_grad(), op, ": expected float32 but got ", a.dtype());
}

// Gradients of a op b for broadcast operands: each is reduced back to its operand's shape.
Tensor binary_with_grad(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  Tensor out = kernels::binary(op, a, b);
  if (!autograd::needs_recording({a, b})) return out;
  check_float(kernels::binary_op_name(op), a);
  const bool a_needs = a.requires_grad(), b_needs = b.requires_grad();
  // Captures: for mul/div the operands (their values are needed); for add/sub only shapes.
  Tensor saved_a = op == BinaryOp::Mul || op == BinaryOp::Div ? a.detach() : Tensor();
  Tensor saved_b = op == BinaryOp::Mul || op == BinaryOp::Div ? b.detach() : Tensor();
  const Shape a_shape = a.shape(), b_shape = b.shape();
  return autograd::record(name, out, {a, b},
                          [=](const Tensor& g) -> std::vector<Tensor> {
                            Tensor grad_a, grad_b;
                            switch (op) {
                              case BinaryOp::Add:
                                if (a_needs) grad_a = kernels::sum_to_shape(g, a_shape);
                                if (b_needs) grad_b = kernels::sum_to_shape(g, b_shape);
                                break;
                              case BinaryOp::Sub:
                                if (a_needs) grad_a = kernels::sum_to_shape(g, a_shape);
                                if (b_needs) grad_b = kernels::sum_to_shape(kernels::unary(UnaryOp::Neg, g), b_shape);
                                break;
                              case BinaryOp::Mul:
                                if (a_needs)
                                  grad_a = kernels::sum_to_shape(kernels::binary(BinaryOp::Mul, g, saved_b), a_shape);
                                if (b_needs)
                                  grad_b = kernels::sum_to_shape(kernels::binary(BinaryOp::Mul, g, saved_a), b_shape);
                                break;
                              case BinaryOp::Div: {
                                // d(a/b)/da = 1/b; d(a/b)/db = -a/b².
                                Tensor g_over_b = kernels::binary(BinaryOp::Div, g, saved_b);
                                if (a_needs) grad_a = kernels::sum_to_shape(g_over_b, a_shape);
                                if (b_needs) {
                                  Tensor t = kernels::binary(BinaryOp::Mul, g_over_b,
                                                             kernels::binary(BinaryOp::Div, saved_a, saved_b));
                                  grad_b = kernels::sum_to_shape(kernels::unary(UnaryOp::Neg, t), b_shape);
                                }
                                break;
                              }
                            }
                            return {grad_a, grad_b};
                          },
                          {saved_a, saved_b});
}

const char* backward_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add:
      return "AddBackward";
    case BinaryOp::Sub:
      return "SubBackward";
    case BinaryOp::Mul:
      return "MulBackward";
    case BinaryOp::Div:
      return "DivBackward";
  }
  return "?";
}

// a op s (or s op a): the gradient is g, -g, g·s, g/s, or for s/a: -g·s/a².
Tensor scalar_with_grad(BinaryOp op, const Tensor& a, double s, bool scalar_first) {
  Tensor out = kernels::binary_scalar(op, a, s, scalar_first);
  if (!autograd::needs_recording({a})) return out;
  Tensor saved_a = op == BinaryOp::Div && scalar_first ? a.detach() : Tensor();
  return autograd::record(
      backward_name(op), out, {a},
      [=](const Tensor& g) -> std::vector<Tensor> {
        switch (op) {
          case BinaryOp::Add:
            return {g};
          case BinaryOp::Sub:
            return {scalar_first ? kernels::unary(UnaryOp::Neg, g) : g};
          case BinaryOp::Mul:
            return {kernels::binary_scalar(BinaryOp::Mul, g, s)};
          case BinaryOp::Div:
            if (!scalar_first) return {kernels::binary_scalar(BinaryOp::Div, g, s)};
            {
              Tensor a_squared = kernels::binary(BinaryOp::Mul, saved_a, saved_a);
              return {kernels::binary_scalar(BinaryOp::Mul, kernels::binary(BinaryOp::Div, g, a_squared), -s)};
            }
        }
        return {Tensor()};
      },
      {saved_a});
}

// op_name names the op in errors ("exp"); name is its tape entry's ("ExpBackward").
Tensor unary_with_grad(UnaryOp op, const char* op_name, const char* name, const Tensor& a) {
  check_float(op_name, a);
  check_dtype(op_name, "input", a, DType::Float32);
  Tensor out = kernels::unary(op, a);
  if (!autograd::needs_recording({a})) return out;
  // Saved: the input (relu, log) or the output's values (exp, sqrt) — detached copies of handles.
  Tensor saved_input = op == UnaryOp::Relu || op == UnaryOp::Log ? a.detach() : Tensor();
  Tensor saved_output = op == UnaryOp::Exp || op == UnaryOp::Sqrt ? out.detach() : Tensor();
  return autograd::record(
      name, out, {a},
      [=](const Tensor& g) -> std::vector<Tensor> {
        switch (op) {
          case UnaryOp::Neg:
            return {kernels::unary(UnaryOp::Neg, g)};
          case UnaryOp::Relu:
            return {kernels::relu_backward(g, saved_input)};
          case UnaryOp::Exp:
            return {kernels::binary(BinaryOp::Mul, g, saved_output)};
          case UnaryOp::Log:
            return {kernels::binary(BinaryOp::Div, g, saved_input)};
          case UnaryOp::Sqrt:  // d sqrt(x) = 1 / (2 sqrt(x))
            return {kernels::binary_scalar(BinaryOp::Mul, kernels::binary(BinaryOp::Div, g, saved_output), 0.5)};
        }
        return {Tensor()};
      },
      {saved_input, saved_output});
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary_with_grad(BinaryOp::Add, "AddBackward", a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_with_grad(BinaryOp::Sub, "SubBackward", a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_with_grad(BinaryOp::Mul, "MulBackward", a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_with_grad(BinaryOp::Div, "DivBackward", a, b); }
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return scalar_with_grad(BinaryOp::Add, a, b, false); }
Tensor operator-(const Tensor& a, double b) { return scalar_with_grad(BinaryOp::Sub, a, b, false); }
Tensor operator*(const Tensor& a, double b) { return scalar_with_grad(BinaryOp::Mul, a, b, false); }
Tensor operator/(const Tensor& a, double b) { return scalar_with_grad(BinaryOp::Div, a, b, false); }
Tensor operator+(double a, const Tensor& b) { return scalar_with_grad(BinaryOp::Add, b, a, true); }
Tensor operator-(double a, const Tensor& b) { return scalar_with_grad(BinaryOp::Sub, b, a, true); }
Tensor operator*(double a, const Tensor& b) { return scalar_with_grad(BinaryOp::Mul, b, a, true); }
Tensor operator/(double a, const Tensor& b) { return scalar_with_grad(BinaryOp::Div, b, a, true); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor neg(const Tensor& a) {
  // Integers: 0 − a, wrapping as PyTorch (uint8: −1 → 255; int64: −INT64_MIN → INT64_MIN).
  if (a.defined() && a.dtype() != DType::Float32) return kernels::binary_scalar(BinaryOp::Sub, a, 0.0, true);
  return unary_with_grad(UnaryOp::Neg, "neg", "NegBackward", a);
}
Tensor exp(const Tensor& a) { return unary_with_grad(UnaryOp::Exp, "exp", "ExpBackward", a); }
Tensor log(const Tensor& a) { return unary_with_grad(UnaryOp::Log, "log", "LogBackward", a); }
Tensor sqrt(const Tensor& a) { return unary_with_grad(UnaryOp::Sqrt, "sqrt", "SqrtBackward", a); }
Tensor relu(const Tensor& a) { return unary_with_grad(UnaryOp::Relu, "relu", "ReluBackward", a); }

Tensor eq(const Tensor& a, const Tensor& b) { return kernels::equal(a, b); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }

}  // namespace wisp
