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
// The widest side whose indices are stored in 16 bits: feature indices 0 .. 65535.
constexpr int64_t kMaxUInt16IndexedFeatures = int64_t(UINT16_MAX) + 1;

// The index dtypes of a SparseStructure. Positions into the nonzeros (row_pointers, column_pointers,
// csc_to_value) need Int32 or Int64, depending on nnz; feature indices (column_indices, row_indices)
// need only as many bits as the number of features they index: UInt16 for a side of at most 65536
// features, which halves the bytes each connection costs the kernels. The public COO view
// (nn::SparseLinear::indices()) and saved files keep Int64 whatever is stored here.
struct SparseIndexDTypes {
  DType pointers = DType::Int32;  // row_pointers, column_pointers, csc_to_value: Int32 or Int64
  DType columns = DType::Int32;   // column_indices (input features): UInt16, Int32 or Int64
  DType rows = DType::Int32;      // row_indices (output features): UInt16, Int32 or Int64

  // The smallest that hold them: Int32 pointers when nnz and both sizes are at most
  // kMaxInt32IndexedSize, else Int64; UInt16 feature indices for a side of at most
  // kMaxUInt16IndexedFeatures, else the pointers' dtype.
  static SparseIndexDTypes smallest(int64_t nnz, int64_t out_features, int64_t in_features);
  // All three `dtype` (Int32 or Int64): the format without 16-bit feature indices, for comparisons.
  static SparseIndexDTypes uniform(DType dtype) { return {dtype, dtype, dtype}; }
  bool operator==(const SparseIndexDTypes& other) const {
    return pointers == other.pointers && columns == other.columns && rows == other.rows;
  }
};

// The index structure of a sparse out × in matrix whose nonzeros are sorted by (row, col), all on
// one device, with the index dtypes of SparseIndexDTypes.
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
  SparseIndexDTypes index_dtypes() const { return {row_pointers.dtype(), column_indices.dtype(), row_indices.dtype()}; }
  Device device() const { return column_indices.device(); }
  // Bytes held by the five index tensors.
  size_t nbytes() const;
  // The structure with every tensor on `device` (tensors already there are shared, not copied).
  SparseStructure to(Device device) const;
};

// Kernels and code written against them name it kernels::SparseStructure.
namespace kernels {
using ::wisp::kMaxInt32IndexedSize;
using ::wisp::kMaxUInt16IndexedFeatures;
using ::wisp::SparseIndexDTypes;
using ::wisp::SparseStructure;
}  // namespace kernels

}  // namespace wisp
