// Elementwise ops with autograd: arithmetic with broadcasting, scalar arithmetic, unary functions,
// activations, clamp and where; and the comparisons, which have no gradient.
#include "wisp/kernels/elementwise.h"
#include "wisp/autograd/tape.h"
#include "wisp/core/factories.h"
#include "wisp/ops/elementwise.h"

namespace wisp {

using kernels::BinaryOp;
using kernels::CompareOp;
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
  if (op == UnaryOp::Neg) {  // reads nothing
    return autograd::record(name, out, {a},
                            [](const Tensor& g) -> std::vector<Tensor> { return {kernels::unary(UnaryOp::Neg, g)}; });
  }
  // Saved: the output's values (exp, sqrt, tanh, sigmoid) or the input (the others), whichever the
  // derivative reads — a detached handle.
  const Tensor saved = kernels::unary_backward_reads_output(op) ? out.detach() : a.detach();
  return autograd::record(
      name, out, {a},
      [op, saved](const Tensor& g) -> std::vector<Tensor> { return {kernels::unary_backward(op, g, saved)}; }, {saved});
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

Tensor tanh(const Tensor& a) { return unary_with_grad(UnaryOp::Tanh, "tanh", "TanhBackward", a); }
Tensor sigmoid(const Tensor& a) { return unary_with_grad(UnaryOp::Sigmoid, "sigmoid", "SigmoidBackward", a); }
Tensor gelu(const Tensor& a, const std::string& approximate) {
  WISP_CHECK(approximate == "none" || approximate == "tanh", "gelu: expected approximate 'none' or 'tanh' but got '",
             approximate, "'");
  if (approximate == "tanh") return unary_with_grad(UnaryOp::GeluTanh, "gelu", "GeluBackward", a);
  return unary_with_grad(UnaryOp::Gelu, "gelu", "GeluBackward", a);
}
Tensor abs(const Tensor& a) {
  // Integers: a where a >= 0, else 0 − a (wrapping as neg: abs(INT64_MIN) = INT64_MIN, as PyTorch).
  if (a.defined() && a.dtype() != DType::Float32) return where(a < 0.0, neg(a), a);
  return unary_with_grad(UnaryOp::Abs, "abs", "AbsBackward", a);
}

Tensor clamp(const Tensor& a, const std::optional<double>& min, const std::optional<double>& max) {
  WISP_CHECK(min || max, "clamp: expected at least one of min and max but got neither");
  check_float("clamp", a);
  Tensor out = kernels::clamp(a, min, max);
  if (!autograd::needs_recording({a})) return out;
  const Tensor saved_input = a.detach();  // the input, to tell where it lay within the bounds
  return autograd::record("ClampBackward", out, {a},
                          [saved_input, min, max](const Tensor& g) -> std::vector<Tensor> {
                            return {kernels::clamp_backward(g, saved_input, min, max)};
                          },
                          {saved_input});
}

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  Tensor out = kernels::where(condition, a, b);
  if (!autograd::needs_recording({a, b})) return out;
  check_float("where", a);
  const bool a_needs = a.requires_grad(), b_needs = b.requires_grad();
  // Saved: the condition (its values route the gradient) and the values' shapes.
  const Tensor saved_condition = condition.detach();
  const Shape a_shape = a.shape(), b_shape = b.shape();
  return autograd::record("WhereBackward", out, {a, b},
                          [=](const Tensor& g) -> std::vector<Tensor> {
                            const Tensor zero = zeros({}, TensorOptions(DType::Float32).device(g.device()));
                            Tensor grad_a, grad_b;
                            if (a_needs)
                              grad_a = kernels::sum_to_shape(kernels::where(saved_condition, g, zero), a_shape);
                            if (b_needs)
                              grad_b = kernels::sum_to_shape(kernels::where(saved_condition, zero, g), b_shape);
                            return {grad_a, grad_b};
                          },
                          {saved_condition});
}

namespace {
// A scalar as a 0-dimensional tensor of `like`'s dtype and device, for where's scalar forms.
Tensor scalar_like(const char* op, const Tensor& like, double value) {
  WISP_CHECK(like.defined(), op, ": expected a defined tensor");
  check_holds_value(op, "value", like.dtype(), value);
  return full({}, value, TensorOptions(like.dtype()).device(like.device()));
}
}  // namespace

Tensor where(const Tensor& condition, const Tensor& a, double b) {
  return where(condition, a, scalar_like("where", a, b));
}
Tensor where(const Tensor& condition, double a, const Tensor& b) {
  return where(condition, scalar_like("where", b, a), b);
}

Tensor eq(const Tensor& a, const Tensor& b) { return kernels::equal(a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return kernels::compare(CompareOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return kernels::compare(CompareOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return kernels::compare(CompareOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return kernels::compare(CompareOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return kernels::compare(CompareOp::Ge, a, b); }
Tensor eq(const Tensor& a, double b) { return kernels::compare_scalar(CompareOp::Eq, a, b); }
Tensor ne(const Tensor& a, double b) { return kernels::compare_scalar(CompareOp::Ne, a, b); }
Tensor lt(const Tensor& a, double b) { return kernels::compare_scalar(CompareOp::Lt, a, b); }
Tensor le(const Tensor& a, double b) { return kernels::compare_scalar(CompareOp::Le, a, b); }
Tensor gt(const Tensor& a, double b) { return kernels::compare_scalar(CompareOp::Gt, a, b); }
Tensor ge(const Tensor& a, double b) { return kernels::compare_scalar(CompareOp::Ge, a, b); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, double b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, double b) { return ne(a, b); }
Tensor operator<(const Tensor& a, double b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, double b) { return le(a, b); }
Tensor operator>(const Tensor& a, double b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, b); }
// s op a is a's mirrored comparison with s: s < a is a > s.
Tensor operator==(double a, const Tensor& b) { return eq(b, a); }
Tensor operator!=(double a, const Tensor& b) { return ne(b, a); }
Tensor operator<(double a, const Tensor& b) { return gt(b, a); }
Tensor operator<=(double a, const Tensor& b) { return ge(b, a); }
Tensor operator>(double a, const Tensor& b) { return lt(b, a); }
Tensor operator>=(double a, const Tensor& b) { return le(b, a); }

}  // namespace wisp
