#include "wisp/kernels/cpu/linear.h"
#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/parallel.h"

#include <omp.h>

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
using Index = Eigen::Index;

ConstMatrixMap const_matrix(const Tensor& t) { return ConstMatrixMap(pointer<float>(t), t.size(0), t.size(1)); }

MatrixMap matrix(const Tensor& t) { return MatrixMap(mutable_pointer<float>(t), t.size(0), t.size(1)); }

// Multiply-adds below which a product runs on one thread, and the fewest each thread gets: starting
// a parallel region costs a few microseconds, about what 2^17 multiply-adds take on one AVX2 core (an
// estimate from the kernel's rate, not a tuned value).
constexpr double kMinParallelWork = double(1 << 17);
// Rows (or columns) of the output a thread gets at the least, and the multiple its share is rounded
// to: Eigen's AVX2 float kernel works on 24-row by 4-column tiles, and 8 floats fill a vector.
constexpr Index kMinBlock = 16, kBlockAlignment = 8;

// Eigen's own parallel GEMM makes its threads spin, without pausing or yielding, until every other
// thread has packed its share of the operands: a thread without a core of its own (more threads than
// cores, or cores busy with other processes) then stalls the rest for whole scheduler time slices
// (2 threads on 2 busy cores: 9x slower than 1). Eigen therefore runs single-threaded, and
// split_product splits each product itself into independent blocks, one per thread of an OpenMP
// region; the threads meet only at the region's end, where libgomp's barrier spins briefly, then sleeps.
void use_single_threaded_eigen() {
  static const bool done = (Eigen::setNbThreads(1), true);
  (void)done;
}

// Calls block(row_begin, rows, column_begin, columns) on disjoint blocks covering an output of
// `rows` x `columns` computed with `depth` multiply-adds per element, in parallel. The output's
// larger dimension is split, so the operand each thread packs whole (Eigen packs both operands of a
// product) is the smaller one; rows when equal, which keeps each block contiguous. The blocks depend
// only on the sizes and the thread count, so results are the same on every run with the same count.
template <class Block>
void split_product(Index rows, Index columns, Index depth, Block block) {
  use_single_threaded_eigen();
  const bool split_rows = rows >= columns;
  const Index extent = split_rows ? rows : columns;
  const double work = double(rows) * double(columns) * double(depth);
  const Index parts = std::max<Index>(1, std::min({static_cast<Index>(omp_get_max_threads()), extent / kMinBlock,
                                                   static_cast<Index>(work / kMinParallelWork)}));
  if (parts == 1) {
    block(0, rows, 0, columns);
    return;
  }
  // Part p starts at extent * p / parts rounded down to kBlockAlignment (part 0 at 0, the last ends at extent).
  const auto boundary = [&](Index part) {
    return part == parts ? extent : (extent * part / parts) / kBlockAlignment * kBlockAlignment;
  };
#pragma omp parallel for schedule(static) num_threads(static_cast <int>(parts))
  for (Index part = 0; part < parts; ++part) {
    const Index begin = boundary(part), length = boundary(part + 1) - begin;
    if (length == 0) continue;
    if (split_rows) {
      block(begin, length, 0, columns);
    } else {
      block(0, rows, begin, length);
    }
  }
}

// out = lhs · rhs, or out += lhs · rhs when `accumulate`; lhs [rows, depth] and rhs [depth, columns]
// are maps or transposed maps.
template <class Lhs, class Rhs>
void product(MatrixMap out, const Lhs& lhs, const Rhs& rhs, bool accumulate) {
  split_product(out.rows(), out.cols(), lhs.cols(), [&](Index row, Index rows, Index column, Index columns) {
    auto destination = out.block(row, column, rows, columns);
    const auto lhs_block = lhs.middleRows(row, rows);
    const auto rhs_block = rhs.middleCols(column, columns);
    if (accumulate) {
      destination.noalias() += lhs_block * rhs_block;
    } else {
      destination.noalias() = lhs_block * rhs_block;
    }
  });
}

}  // namespace

// a: [n, k] (or [k, n] when transpose_a) row-major; b: [k, m] (or [m, k] when transpose_b);
// out: [n, m] row-major.
void matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, const Tensor& out) {
  const ConstMatrixMap lhs = const_matrix(a), rhs = const_matrix(b);
  if (!transpose_a && !transpose_b) {
    product(matrix(out), lhs, rhs, false);
  } else if (transpose_a && !transpose_b) {
    product(matrix(out), lhs.transpose(), rhs, false);
  } else if (!transpose_a && transpose_b) {
    product(matrix(out), lhs, rhs.transpose(), false);
  } else {
    product(matrix(out), lhs.transpose(), rhs.transpose(), false);
  }
}

// input: [rows, in] row-major; weight: [out, in] row-major; bias: [out] or undefined;
// output: [rows, out] row-major.
void linear_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& output) {
  const ConstMatrixMap x = const_matrix(input), w = const_matrix(weight);
  MatrixMap y = matrix(output);
  if (!bias.defined()) {
    product(y, x, w.transpose(), false);
    return;
  }
  // Fused bias: each block starts its output rows at the bias and lets the GEMM accumulate into them
  // (C += A·B costs the same as C = A·B, which would have to zero C first anyway).
  const Eigen::Map<const Eigen::RowVectorXf> b(pointer<float>(bias), bias.numel());
  const auto wt = w.transpose();
  split_product(y.rows(), y.cols(), x.cols(), [&](Index row, Index rows, Index column, Index columns) {
    auto destination = y.block(row, column, rows, columns);
    destination.rowwise() = b.segment(column, columns);
    destination.noalias() += x.middleRows(row, rows) * wt.middleCols(column, columns);
  });
}

// grad_output: [rows, out]; input: [rows, in]; weight: [out, in] (all row-major);
// grad_input: [rows, in], grad_weight: [out, in], grad_bias: [out], each written when defined.
void linear_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight, const Tensor& grad_input,
                     const Tensor& grad_weight, const Tensor& grad_bias) {
  const ConstMatrixMap g = const_matrix(grad_output);
  if (grad_input.defined()) product(matrix(grad_input), g, const_matrix(weight), false);
  if (grad_weight.defined()) product(matrix(grad_weight), g.transpose(), const_matrix(input), false);
  if (grad_bias.defined()) {
    column_sums(pointer<float>(grad_output), grad_output.size(0), grad_output.size(1),
                mutable_pointer<float>(grad_bias));
  }
}

}  // namespace wisp::kernels::cpu
