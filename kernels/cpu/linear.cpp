#include "wisp/kernels/cpu/linear.h"
#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/parallel.h"

#include <algorithm>

// GCC 12 reports a false "may be used uninitialized" inside its own AVX-512 intrinsics
// (_mm512_undefined_ps) when Eigen's GEMM packing inlines them; it is not a bug in Eigen or here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop

namespace wisp::kernels::cpu {
namespace {

// Our tensors are row-major, so Eigen sees them as row-major matrices; transposes are free views
// (Eigen's GEMM packs either layout). Maps are unaligned: a view may start at an offset.
using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMajorMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMajorMatrix>;

ConstMatrixMap const_matrix(const Tensor& t) { return ConstMatrixMap(pointer<float>(t), t.size(0), t.size(1)); }

MatrixMap matrix(const Tensor& t) { return MatrixMap(mutable_pointer<float>(t), t.size(0), t.size(1)); }

}  // namespace

// a: [n, k] (or [k, n] when transpose_a) row-major; b: [k, m] (or [m, k] when transpose_b);
// out: [n, m] row-major.
void matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, const Tensor& out) {
  const ConstMatrixMap lhs = const_matrix(a), rhs = const_matrix(b);
  MatrixMap result = matrix(out);
  if (!transpose_a && !transpose_b) {
    result.noalias() = lhs * rhs;
  } else if (transpose_a && !transpose_b) {
    result.noalias() = lhs.transpose() * rhs;
  } else if (!transpose_a && transpose_b) {
    result.noalias() = lhs * rhs.transpose();
  } else {
    result.noalias() = lhs.transpose() * rhs.transpose();
  }
}

// input: [rows, in] row-major; weight: [out, in] row-major; bias: [out] or undefined;
// output: [rows, out] row-major.
void linear_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& output) {
  const ConstMatrixMap x = const_matrix(input), w = const_matrix(weight);
  MatrixMap y = matrix(output);
  if (bias.defined()) {
    // Fused bias: start every output row at the bias and let the GEMM accumulate into it
    // (C += A·B costs the same as C = A·B, which would have to zero C first anyway).
    const Eigen::Map<const Eigen::RowVectorXf> b(pointer<float>(bias), bias.numel());
    y.rowwise() = b;
    y.noalias() += x * w.transpose();
  } else {
    y.noalias() = x * w.transpose();
  }
}

// grad_output: [rows, out]; input: [rows, in]; weight: [out, in] (all row-major);
// grad_input: [rows, in], grad_weight: [out, in], grad_bias: [out], each written when defined.
void linear_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight, const Tensor& grad_input,
                     const Tensor& grad_weight, const Tensor& grad_bias) {
  const ConstMatrixMap g = const_matrix(grad_output);
  if (grad_input.defined()) matrix(grad_input).noalias() = g * const_matrix(weight);
  if (grad_weight.defined()) matrix(grad_weight).noalias() = g.transpose() * const_matrix(input);
  if (grad_bias.defined()) {
    column_sums(pointer<float>(grad_output), grad_output.size(0), grad_output.size(1),
                mutable_pointer<float>(grad_bias));
  }
}

}  // namespace wisp::kernels::cpu
