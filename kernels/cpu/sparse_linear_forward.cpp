// CPU twin of the sparse linear forward (kernels/cpu/sparse_linear.h): y [rows, out] batch-major =
// x Wᵀ + bias, with x [rows, in] feature-major (data [in, stride]), W [out, in] as values [nnz] in
// CSR order over a SparseStructure (Int32 or Int64 indices), bias [out] or undefined.
//
// Why this shape of loop: each nonzero (o, i) adds w · x[:, i], one contiguous run of the batch,
// into output o's accumulators, which stay in registers for a batch tile of up to 64 rows (4 × 16
// lanes); outputs go back batch-major from a per-thread block of 16 output features. Threads take
// contiguous ranges of output rows balanced by nnz + rows, so skewed connectivity splits evenly and
// each output is computed by one thread in a fixed order: results are identical for any thread
// count. Int32 indices whenever they fit. The loops are in kernels/cpu/sparse_spmm.h (shared with
// grad_input); measurements of every choice: docs/benchmarks.md, Kernel design log.
#include <cstdint>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/sparse_linear.h"
#include "wisp/kernels/cpu/sparse_spmm.h"

namespace wisp::kernels::cpu {

using sparse_detail::NonzeroValue;
using sparse_detail::parallel_rows;
using sparse_detail::spmm_rows;

// input.data: [in, stride]; values: [nnz]; bias: [out] or undefined; output: [rows, out].
void sparse_linear_forward(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                           const Tensor& bias, const Tensor& output) {
  const int64_t rows = input.rows, out = structure.out_features, stride = input.stride();
  const float* w = pointer<float>(values);
  const float* init = bias.defined() ? pointer<float>(bias) : nullptr;
  const float* x = pointer<float>(input.data);
  float* y = mutable_pointer<float>(output);
  visit_index(structure.index_dtype(), [&](auto tag) {
    using Index = typename decltype(tag)::type;
    const Index* row_pointers = pointer<Index>(structure.row_pointers);
    const Index* column_indices = pointer<Index>(structure.column_indices);
    const NonzeroValue<Index, false> value{w, nullptr, structure.nnz()};
    parallel_rows(row_pointers, out, structure.nnz() * stride, [&](int64_t begin, int64_t end) {
      spmm_rows(row_pointers, column_indices, value, x, stride, rows, init, y, out, begin, end);
    });
  });
}

}  // namespace wisp::kernels::cpu
