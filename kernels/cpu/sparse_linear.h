// CPU twin of kernels/sparse_linear.h: the sparse linear layer's kernels (OpenMP + SIMD).
//
// Layouts: values [nnz] float32 sorted by (row, col); SparseStructure index tensors all Int32 or
// all Int64 (see kernels/sparse_linear.h); FeatureMajor activations data [features, stride];
// batch-major tensors [rows, features] row-major. Outputs are allocated by the dispatch point with
// the right shapes and never alias the inputs. Argument checks are the dispatch point's.
#pragma once

#include "wisp/core/tensor.h"
#include "wisp/kernels/sparse_linear.h"

namespace wisp::kernels::cpu {

// Fills the allocated tensors of `structure` (row_pointers [out + 1], column_indices [nnz],
// column_pointers [in + 1], row_indices [nnz], csc_to_value [nnz], all of one index dtype) from
// `indices` Int64 [2, nnz], already checked to be in range and sorted by (row, col).
void build_sparse_structure(const Tensor& indices, const SparseStructure& structure);

// batch_major [rows, features] -> feature_major.data [features, stride] (padding zeroed).
void to_feature_major(const Tensor& batch_major, const FeatureMajor& feature_major);

// output [rows, out] = x · Wᵀ + bias, with x = input [rows, in] feature-major, W given by values
// [nnz] and structure (CSR order), bias [out] or undefined.
void sparse_linear_forward(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                           const Tensor& bias, const Tensor& output);

// grad_input [rows, in] = g · W over the CSC order, with g = grad_output [rows, out] feature-major.
void sparse_linear_backward_input(const FeatureMajor& grad_output, const Tensor& values,
                                  const SparseStructure& structure, const Tensor& grad_input);

// grad_values [nnz]: grad_values[k] = Σ_r g[r, row_k] · x[r, col_k] (SDDMM), with g = grad_output
// [rows, out] and x = input [rows, in], both feature-major with the same rows.
void sparse_linear_backward_values(const FeatureMajor& grad_output, const FeatureMajor& input,
                                   const SparseStructure& structure, const Tensor& grad_values);

// grad_bias [out] = column sums of grad_output [rows, out] (batch-major).
void sparse_linear_backward_bias(const Tensor& grad_output, const Tensor& grad_bias);

}  // namespace wisp::kernels::cpu
