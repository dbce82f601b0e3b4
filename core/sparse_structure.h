// The index structure of a sparse matrix whose values are stored only at its nonzeros, in (row, col)
// order: CSR for the forward and the weight gradient, CSC with a permutation into the values for
// grad_input. nn::SparseLinear owns one; kernels::make_sparse_structure (kernels/sparse_linear.h)
// builds and checks it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "wisp/core/tensor.h"

namespace wisp {

// The largest nnz, out_features and in_features stored with Int32 indices: the kernels compute
// positions a little ahead of the current one in the index type (prefetches 32 nonzeros ahead, 16-wide
// gathers), which must not overflow; 1024 leaves room for any such look-ahead.
constexpr int64_t kMaxInt32IndexedSize = INT32_MAX - 1024;

// The index structure of a sparse out × in matrix whose nonzeros are sorted by (row, col), all on
// one device, all of one index dtype (Int32 when nnz and both sizes are at most
// kMaxInt32IndexedSize, else Int64).
struct SparseStructure {
  int64_t out_features = 0;
  int64_t in_features = 0;
  Tensor row_pointers;     // [out + 1]: the nonzeros of row r are values[row_pointers[r] .. row_pointers[r+1])
  Tensor column_indices;   // [nnz]: the column (input feature) of each value
  Tensor column_pointers;  // [in + 1]: CSC positions of column c are [column_pointers[c] .. column_pointers[c+1])
  Tensor row_indices;      // [nnz]: the row (output feature) of each CSC position, increasing within a column
  Tensor csc_to_value;     // [nnz]: the index into values of each CSC position

  bool defined() const { return row_pointers.defined(); }
  int64_t nnz() const { return column_indices.numel(); }
  DType index_dtype() const { return column_indices.dtype(); }
  Device device() const { return column_indices.device(); }
  // Bytes held by the five index tensors.
  size_t nbytes() const;
  // The structure with every tensor on `device` (tensors already there are shared, not copied).
  SparseStructure to(Device device) const;
};

// Kernels and code written against them name it kernels::SparseStructure.
namespace kernels {
using ::wisp::kMaxInt32IndexedSize;
using ::wisp::SparseStructure;
}  // namespace kernels

}  // namespace wisp
