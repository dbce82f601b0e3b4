// CPU twin of the sparse linear forward (kernels/cpu/sparse_linear.h): y [rows, out] batch-major =
// x Wᵀ + bias, with x [rows, in] feature-major (data [in, stride]), W [out, in] as values [nnz] in
// CSR order over a SparseStructure (Int32 or Int64 pointers; uint16 column indices for at most 65536
// inputs, else the pointers' dtype), bias [out] or undefined.
//
// Why this shape of loop: each nonzero (o, i) adds w · x[:, i], one contiguous run of the batch,
// into output o's accumulators, which stay in registers for a batch tile of up to 64 rows (4 × 16
// lanes); outputs go back batch-major from a per-thread block of 16 output features. Threads take
// contiguous ranges of output rows balanced by nnz + rows, so skewed connectivity splits evenly and
// each output is computed by one thread in a fixed order: results are identical for any thread
// count. Int32 pointers whenever they fit, 16-bit column indices whenever they fit: the indices are
// half the bytes a connection costs at batch 1. The loops are in kernels/cpu/sparse_spmm.h (shared with
// grad_input); measurements of every choice: docs/benchmarks.md, Kernel design log.
#include <cstdint>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/sparse_linear.h"
#include "wisp/kernels/cpu/sparse_spmm.h"

namespace wisp::kernels::cpu {
using sparse_detail::NonzeroValue;
using sparse_detail::parallel_rows;
using sparse_detail::run_tile_variants;
using sparse_detail::spmm_rows;

// input.data: [in, stride] float32 or bfloat16; values: [nnz] float32 or bfloat16; bias: [out] or
// undefined; output: [rows, out] float32.
void sparse_linear_forward(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                           const Tensor& bias, const Tensor& output) {
  const int64_t rows = input.rows, out = structure.out_features, stride = input.stride();
  const float* init = bias.defined() ? pointer<float>(bias) : nullptr;
  float* y = mutable_pointer<float>(output);
  const SparseIndexDTypes dtypes = structure.index_dtypes();
  visit_float_element(values.dtype(), [&](auto value_tag) {
    visit_float_element(input.data.dtype(), [&](auto input_tag) {
      using ValueElement = typename decltype(value_tag)::type;
      using InputElement = typename decltype(input_tag)::type;
      const ValueElement* w = pointer<ValueElement>(values);
      const InputElement* x = pointer<InputElement>(input.data);
      visit_pointer_and_feature_index(dtypes.pointers, dtypes.columns, [&](auto tag, auto column_tag) {
        using Index = typename decltype(tag)::type;
        using Column = typename decltype(column_tag)::type;
        const Index* row_pointers = pointer<Index>(structure.row_pointers);
        const Column* column_indices = pointer<Column>(structure.column_indices);
        const NonzeroValue<Index, false, ValueElement> value{w, nullptr, structure.nnz()};
        const auto run = [&](bool prefetch) {
          parallel_rows(row_pointers, out, structure.nnz() * stride, [&](int64_t begin, int64_t end) {
            spmm_rows(row_pointers, column_indices, value, x, stride, rows, init, y, out, begin, end, prefetch);
          });
        };
        run_tile_variants("sparse_linear_forward tiles", structure, rows, stride, run);
      });
    });
  });
}

}  // namespace wisp::kernels::cpu
