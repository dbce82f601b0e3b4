// Per-element arithmetic shared by the CPU and CUDA elementwise kernels (DESIGN.md §5): written
// once, as WISP_HOST_DEVICE functions, so the CPU tests exercise the arithmetic the GPU runs.
#pragma once

#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>

#include "wisp/core/macros.h"

namespace wisp::kernels {

enum class BinaryOp { Add, Sub, Mul, Div };
enum class UnaryOp { Neg, Relu, Exp, Log, Sqrt, Tanh, Sigmoid, Gelu, GeluTanh, Abs };
// Elementwise comparisons; the result is UInt8 (1 where true).
enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge };

// Signed integers add, subtract and multiply with wrap-around (two's complement, as PyTorch), done
// in the unsigned type: signed overflow would be undefined behaviour. Division is float-only.
template <class T>
WISP_HOST_DEVICE inline T apply_binary(BinaryOp op, T a, T b) {
  if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    using Unsigned = std::make_unsigned_t<T>;
    const Unsigned x = static_cast<Unsigned>(a), y = static_cast<Unsigned>(b);
    switch (op) {
      case BinaryOp::Add:
        return static_cast<T>(static_cast<Unsigned>(x + y));
      case BinaryOp::Sub:
        return static_cast<T>(static_cast<Unsigned>(x - y));
      case BinaryOp::Mul:
        return static_cast<T>(static_cast<Unsigned>(x * y));
      case BinaryOp::Div:
        return a / b;
    }
    return a;
  }
  switch (op) {
    case BinaryOp::Add:
      return a + b;
    case BinaryOp::Sub:
      return a - b;
    case BinaryOp::Mul:
      return a * b;
    case BinaryOp::Div:
      return a / b;
  }
  return a;
}

// GELU's constants: 1/√2, 1/√(2π), √(2/π) and the cubic term's weight of the tanh form.
constexpr float kInverseSqrt2 = 0.70710678118654752f;
constexpr float kInverseSqrt2Pi = 0.39894228040143268f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;
constexpr float kGeluCubic = 0.044715f;

// ReLU's derivative: 0 where the input is at or below zero (0 at the kink), 1 elsewhere, NaN
// included, as PyTorch's threshold_backward.
WISP_HOST_DEVICE inline float relu_backward_element(float grad_output, float input) {
  return input <= 0.0f ? 0.0f : grad_output;
}

WISP_HOST_DEVICE inline float apply_unary(UnaryOp op, float x) {
  switch (op) {
    case UnaryOp::Neg:
      return -x;
    case UnaryOp::Relu:
      return x < 0.0f ? 0.0f : x;  // NaN stays NaN (and -0 stays -0), as in PyTorch
    case UnaryOp::Exp:
      return expf(x);
    case UnaryOp::Log:
      return logf(x);
    case UnaryOp::Sqrt:
      return sqrtf(x);
    case UnaryOp::Tanh:
      return tanhf(x);
    case UnaryOp::Sigmoid:
      return 1.0f / (1.0f + expf(-x));  // exp overflows to inf for x < -88: 1 / inf = 0, no NaN
    case UnaryOp::Gelu:
      return 0.5f * x * (1.0f + erff(x * kInverseSqrt2));
    case UnaryOp::GeluTanh:
      return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
    case UnaryOp::Abs:
      return fabsf(x);
  }
  return x;
}

// Whether unary_backward_element reads the op's output (tanh, sigmoid, exp, sqrt: their derivatives
// are cheapest from it) or its input (the others).
inline bool unary_backward_reads_output(UnaryOp op) {
  return op == UnaryOp::Exp || op == UnaryOp::Sqrt || op == UnaryOp::Tanh || op == UnaryOp::Sigmoid;
}

// grad_input = grad_output · f'(x), from `saved`: the output y for the ops unary_backward_reads_output
// names, the input x otherwise. GELU's derivatives are PyTorch's: Φ(x) + x φ(x) exactly, and the
// tanh form's derivative as written in PyTorch's gelu_backward. abs passes sign(x): 0 at 0 and at
// NaN, as PyTorch.
WISP_HOST_DEVICE inline float unary_backward_element(UnaryOp op, float grad_output, float saved) {
  switch (op) {
    case UnaryOp::Neg:
      return -grad_output;
    case UnaryOp::Relu:
      return relu_backward_element(grad_output, saved);
    case UnaryOp::Exp:
      return grad_output * saved;
    case UnaryOp::Log:
      return grad_output / saved;
    case UnaryOp::Sqrt:  // 1 / (2 sqrt(x))
      return grad_output / saved * 0.5f;
    case UnaryOp::Tanh:
      return grad_output * (1.0f - saved * saved);
    case UnaryOp::Sigmoid:
      return grad_output * saved * (1.0f - saved);
    case UnaryOp::Gelu: {
      const float cdf = 0.5f * (1.0f + erff(saved * kInverseSqrt2));
      const float pdf = kInverseSqrt2Pi * expf(-0.5f * saved * saved);
      return grad_output * (cdf + saved * pdf);
    }
    case UnaryOp::GeluTanh: {
      const float square = saved * saved;
      const float inner = kSqrt2OverPi * (saved + kGeluCubic * square * saved);
      const float tanh_inner = tanhf(inner);
      const float left_derivative = 0.5f * (1.0f + tanh_inner);
      const float right_derivative =
          0.5f * saved * (1.0f - tanh_inner * tanh_inner) * kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * square);
      return grad_output * (left_derivative + right_derivative);
    }
    case UnaryOp::Abs:
      return saved > 0.0f ? grad_output : (saved < 0.0f ? -grad_output : 0.0f);
  }
  return grad_output;
}

template <class T>
WISP_HOST_DEVICE inline bool apply_compare(CompareOp op, T a, T b) {
  switch (op) {
    case CompareOp::Eq:
      return a == b;
    case CompareOp::Ne:
      return a != b;
    case CompareOp::Lt:
      return a < b;
    case CompareOp::Le:
      return a <= b;
    case CompareOp::Gt:
      return a > b;
    case CompareOp::Ge:
      return a >= b;
  }
  return false;
}

// clamp(x) = min(max(x, low), high), PyTorch's order: when low > high every element becomes high.
// NaN stays NaN. An absent bound is passed as the type's -inf/+inf (or lowest/highest integer).
template <class T>
WISP_HOST_DEVICE inline T clamp_element(T x, T low, T high) {
  const T raised = x < low ? low : x;
  return raised > high ? high : raised;
}

// The gradient passes where low <= x <= high (at the bounds too, as PyTorch), and not at NaN.
WISP_HOST_DEVICE inline float clamp_backward_element(float grad_output, float input, float low, float high) {
  return input >= low && input <= high ? grad_output : 0.0f;
}

// A bound of clamp as T, the absent one as the value that clamps nothing. Host code.
template <class T>
T clamp_limit(const std::optional<double>& bound, bool is_low) {
  if (bound) return static_cast<T>(*bound);
  if constexpr (std::numeric_limits<T>::has_infinity) {
    return is_low ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
  } else {
    return is_low ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
  }
}

// Calls function(std::integral_constant<BinaryOp, op>{}) (likewise for UnaryOp): the op becomes a
// compile-time constant of the loop or kernel the function instantiates, so the per-element switch
// folds away (with the switch inside, ReLU over [64, 50000] cost 13% of a wide-model step).
template <class Function>
void visit_binary_op(BinaryOp op, Function&& function) {
  switch (op) {
    case BinaryOp::Add:
      return function(std::integral_constant<BinaryOp, BinaryOp::Add>{});
    case BinaryOp::Sub:
      return function(std::integral_constant<BinaryOp, BinaryOp::Sub>{});
    case BinaryOp::Mul:
      return function(std::integral_constant<BinaryOp, BinaryOp::Mul>{});
    case BinaryOp::Div:
      return function(std::integral_constant<BinaryOp, BinaryOp::Div>{});
  }
}

template <class Function>
void visit_unary_op(UnaryOp op, Function&& function) {
  switch (op) {
    case UnaryOp::Neg:
      return function(std::integral_constant<UnaryOp, UnaryOp::Neg>{});
    case UnaryOp::Relu:
      return function(std::integral_constant<UnaryOp, UnaryOp::Relu>{});
    case UnaryOp::Exp:
      return function(std::integral_constant<UnaryOp, UnaryOp::Exp>{});
    case UnaryOp::Log:
      return function(std::integral_constant<UnaryOp, UnaryOp::Log>{});
    case UnaryOp::Sqrt:
      return function(std::integral_constant<UnaryOp, UnaryOp::Sqrt>{});
    case UnaryOp::Tanh:
      return function(std::integral_constant<UnaryOp, UnaryOp::Tanh>{});
    case UnaryOp::Sigmoid:
      return function(std::integral_constant<UnaryOp, UnaryOp::Sigmoid>{});
    case UnaryOp::Gelu:
      return function(std::integral_constant<UnaryOp, UnaryOp::Gelu>{});
    case UnaryOp::GeluTanh:
      return function(std::integral_constant<UnaryOp, UnaryOp::GeluTanh>{});
    case UnaryOp::Abs:
      return function(std::integral_constant<UnaryOp, UnaryOp::Abs>{});
  }
}

template <class Function>
void visit_compare_op(CompareOp op, Function&& function) {
  switch (op) {
    case CompareOp::Eq:
      return function(std::integral_constant<CompareOp, CompareOp::Eq>{});
    case CompareOp::Ne:
      return function(std::integral_constant<CompareOp, CompareOp::Ne>{});
    case CompareOp::Lt:
      return function(std::integral_constant<CompareOp, CompareOp::Lt>{});
    case CompareOp::Le:
      return function(std::integral_constant<CompareOp, CompareOp::Le>{});
    case CompareOp::Gt:
      return function(std::integral_constant<CompareOp, CompareOp::Gt>{});
    case CompareOp::Ge:
      return function(std::integral_constant<CompareOp, CompareOp::Ge>{});
  }
}

inline const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add:
      return "add";
    case BinaryOp::Sub:
      return "sub";
    case BinaryOp::Mul:
      return "mul";
    case BinaryOp::Div:
      return "div";
  }
  return "?";
}

// PyTorch's names: "eq", "ne", "lt", "le", "gt", "ge".
inline const char* compare_op_name(CompareOp op) {
  switch (op) {
    case CompareOp::Eq:
      return "eq";
    case CompareOp::Ne:
      return "ne";
    case CompareOp::Lt:
      return "lt";
    case CompareOp::Le:
      return "le";
    case CompareOp::Gt:
      return "gt";
    case CompareOp::Ge:
      return "ge";
  }
  return "?";
}

}  // namespace wisp::kernels
