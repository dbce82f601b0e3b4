// Dispatch point for the sparse linear layer: y = x Wᵀ + b with W an out × in matrix stored only
// at its nonzeros, and its backward. Each function checks devices once and calls the CPU twin
// (kernels/cpu/sparse_linear.h) or the CUDA twin with the same signature (kernels/cuda/sparse_linear.h).
// Outputs are allocated here, so twins only write. Not recorded on the tape:
// ops/sparse_linear.cpp adds autograd.
//
// Layouts (DESIGN.md §6). The weight matrix is `values` [nnz] (the trainable parameter), sorted by
// (row, col) — row = output feature, col = input feature — plus a SparseStructure built once per
// connectivity: CSR row pointers and column indices for the forward and the weight gradient, and
// the transposed (CSC) order with a permutation into `values`, so that grad_input = grad_output · W
// is a plain product over columns and never a transposed scatter. Nothing of size out × in is
// allocated, except by the dense loop small layers may run (kernels/cpu/sparse_linear_dense.h).
//
// Activations enter the kernels feature-major: FeatureMajor holds x [rows, features] as
// data [features, stride] (stride = rows rounded up to kFeatureMajorLanes, zero padded; stride 1
// when rows == 1, where both layouts are the same memory). Each nonzero then multiplies one
// contiguous run of the batch (kernels/cpu/sparse_linear_forward.cpp explains the choice; timings:
// docs/benchmarks.md, Kernel design log).
#pragma once

#include <cstdint>

#include "wisp/core/sparse_structure.h"
#include "wisp/core/tensor.h"

namespace wisp::kernels {

// SparseStructure, SparseIndexDTypes and kMaxInt32IndexedSize: core/sparse_structure.h.
using ::wisp::SparseIndexDTypes;
using ::wisp::SparseStructure;

// Builds the structure of an out_features × in_features matrix from `indices`, Int64 [2, nnz]
// (row 0 = output feature, row 1 = input feature) sorted by (row, col) without duplicates — what
// nn::coalesce_connectivity returns. Checks shape, range and order, naming the first offending
// entry. The default index dtypes are SparseIndexDTypes::smallest (16-bit feature indices for sides
// of at most 65536 features); `index_dtypes` chooses them (e.g. for measurements), and a single
// `index_dtype` (Int32 or Int64) gives all five tensors that dtype. The result lives on indices'
// device; O(nnz + in + out).
SparseStructure make_sparse_structure(const Tensor& indices, int64_t out_features, int64_t in_features);
SparseStructure make_sparse_structure(const Tensor& indices, int64_t out_features, int64_t in_features,
                                      const SparseIndexDTypes& index_dtypes);
SparseStructure make_sparse_structure(const Tensor& indices, int64_t out_features, int64_t in_features,
                                      DType index_dtype);

// Throws unless host_indices (Int64 [2, nnz] on the CPU) are in range for an out_features ×
// in_features matrix and sorted by (row, col) without duplicates, naming `op` and the first offending
// nonzero.
void check_sorted_connectivity(const char* op, const Tensor& host_indices, int64_t out_features, int64_t in_features);

// Batch rows are padded to a multiple of this in feature-major tensors (a lane group: one AVX-512
// vector of floats, two AVX2 vectors).
constexpr int64_t kFeatureMajorLanes = 16;

// The stride of `rows` batch rows in a feature-major tensor: rows rounded up to kFeatureMajorLanes,
// or rows itself for 0 or 1 row (one row is the same memory in both layouts).
inline int64_t feature_major_stride(int64_t rows) {
  return rows <= 1 ? rows : (rows + kFeatureMajorLanes - 1) / kFeatureMajorLanes * kFeatureMajorLanes;
}

// A batch of activations x [rows, features] stored transposed: data [features, stride], with
// data[f, r] = x[r, f] for r < rows and 0 in the padding r >= rows.
struct FeatureMajor {
  Tensor data;
  int64_t rows = 0;
  int64_t features() const { return data.size(0); }
  int64_t stride() const { return data.size(1); }
};

// x [rows, features] float32 (row-major, batch-major) -> its feature-major copy. Never recorded.
// `element` BFloat16 rounds the copy (half the bytes for the kernels to read; the reduced-precision
// mode of nn::SparseLinear) for two rows or more; one row is never copied and stays float32.
FeatureMajor to_feature_major(const Tensor& batch_major);
FeatureMajor to_feature_major(const Tensor& batch_major, DType element);

// y [rows, out] = x · valuesᵀ + bias: input holds x [rows, in] (float32, or bfloat16 for two rows or
// more); values [nnz] float32 or bfloat16 (a reduced-precision copy of the trained values); bias
// [out] float32 or undefined. Products and sums are float32 in every mode.
Tensor sparse_linear_forward(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                             const Tensor& bias);

// The gradients of sparse_linear_forward; each is undefined unless it was asked for.
struct SparseLinearGradients {
  Tensor input;   // [rows, in]: grad_output · W, over the CSC order
  Tensor values;  // [nnz]: values[k] = Σ_r grad_output[r, row_k] · x[r, col_k], only at the nonzeros
  Tensor bias;    // [out]: column sums of grad_output
};

// grad_output [rows, out] float32; input (x, feature-major, float32 or bfloat16) needed only for
// need_values; values (float32 or bfloat16) needed only for need_input. Gradients are float32.
SparseLinearGradients sparse_linear_backward(const Tensor& grad_output, const FeatureMajor& input, const Tensor& values,
                                             const SparseStructure& structure, bool need_input, bool need_values,
                                             bool need_bias);

}  // namespace wisp::kernels
