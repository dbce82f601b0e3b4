// The sparse linear op with autograd: y = x Wᵀ + b with W stored only at its nonzeros
// (DESIGN.md §6). nn::SparseLinear (layers/sparse_linear.h) owns the values and the structure and
// calls this; it is public for users who manage their own sparse weights.
#pragma once

#include "wisp/core/sparse_structure.h"
#include "wisp/core/tensor.h"
#include "wisp/kernels/sparse_linear.h"  // make_sparse_structure, which builds the op's structure

namespace wisp {

// input [..., in] or [in] float32; weights [nnz] float32, the values of W in the (row, col) order
// of `structure` (kernels::make_sparse_structure in kernels/sparse_linear.h) for an out × in matrix; bias [out] or
// undefined. Returns [..., out] (or [out]). Records one tape entry ("SparseLinearBackward") whose backward computes,
// each only when needed: grad_input = g · W (over the structure's CSC order), grad_weights[k] = Σ_rows g[row_k] ·
// x[col_k] (only at the nonzeros) and grad_bias (sums of g). Never materialises an out × in matrix.
Tensor sparse_linear(const Tensor& input, const Tensor& weights, const SparseStructure& structure,
                     const Tensor& bias = Tensor());

// The reduced-precision variant: the forward and grad_input read `weights_bfloat16` (BFloat16 [nnz],
// the weights rounded to bfloat16, which the caller keeps up to date: nn::SparseLinear with
// compute_dtype(DType::BFloat16) does); the input stays float32. Products and sums are float32, and
// the gradient reaches the float32 `weights` as in the exact op, so the optimizer learns in float32.
// 4 bytes per connection at batch 1 instead of 6; results differ from the exact op by bfloat16's
// rounding of the weights (8 significant bits).
Tensor sparse_linear(const Tensor& input, const Tensor& weights, const Tensor& weights_bfloat16,
                     const SparseStructure& structure, const Tensor& bias);

}  // namespace wisp
