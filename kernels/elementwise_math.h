// Per-element arithmetic shared by the CPU and CUDA elementwise kernels (DESIGN.md §5): written
// once, as WISP_HOST_DEVICE functions, so the CPU tests exercise the arithmetic the GPU runs.
#pragma once

#include <cmath>

#include "core/macros.h"

namespace wisp::kernels {

enum class BinaryOp { Add, Sub, Mul, Div };
enum class UnaryOp { Neg, Relu, Exp, Log, Sqrt };

template <class T>
WISP_HOST_DEVICE inline T apply_binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
  }
  return a;
}

WISP_HOST_DEVICE inline float apply_unary(UnaryOp op, float x) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Relu: return x > 0.0f ? x : 0.0f;
    case UnaryOp::Exp: return expf(x);
    case UnaryOp::Log: return logf(x);
    case UnaryOp::Sqrt: return sqrtf(x);
  }
  return x;
}

// ReLU's derivative: 1 where the input is positive, 0 elsewhere (0 at the kink, as PyTorch).
WISP_HOST_DEVICE inline float relu_backward_element(float grad_output, float input) {
  return input > 0.0f ? grad_output : 0.0f;
}

inline const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
  }
  return "?";
}

}  // namespace wisp::kernels
