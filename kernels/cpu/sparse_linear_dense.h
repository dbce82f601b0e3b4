// A dense twin of the sparse linear forward and grad_input for small layers, and the entry points that
// choose between it and the sparse kernels by measurement (kernels/cpu/kernel_choice.h). Internal to
// the CPU twin: the dispatch point (kernels/sparse_linear.cpp) calls the *_measured functions.
//
// Why: for a small layer (784 → 2000, 2000 → 10) the whole weight matrix fits in the caches, and a
// dense loop over it, without index loads or scattered reads, can beat the sparse kernel despite
// multiplying the zeros too; which one wins depends on the sparsity and on the machine, hence the
// measurement at first use.
//
// Results are bit-identical to the sparse kernels': the dense loop sums the same terms in the same
// order with the same per-lane expression as spmm_tile (kernels/cpu/sparse_spmm.h), plus w · x terms with
// w = +0 for the absent connections, which leave every sum unchanged (sparse_linear_dense.cpp says
// why). A non-finite input would turn such a term into NaN (0 · inf): the dense functions check
// their input and run the sparse kernel then.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"
#include "wisp/kernels/sparse_linear.h"

namespace wisp::kernels::cpu {

// The largest out · in for which the dense variant is offered. The dense loop does out · in · rows
// multiply-adds whatever the sparsity and keeps a dense copy of W (out · in floats, 16 MB here) per
// calling thread; beyond this size a layer is sparse to save that memory and work, and measuring the
// dense loop at first use would itself cost a large share of a step.
constexpr int64_t kMaxDenseSparseLinearElements = int64_t(4) << 20;

// Whether the measured entry points offer the dense variant for `rows` batch rows: at least 2 rows
// (one row takes the sparse kernel's vectorised dot products, whose summation order a dense loop
// would not reproduce) and out · in at most kMaxDenseSparseLinearElements.
bool dense_sparse_linear_applies(int64_t rows, const SparseStructure& structure);

// cpu::sparse_linear_forward's result through a dense loop over W. Returns true when the dense loop
// ran; false when it ran the sparse kernel instead (dense_sparse_linear_applies false, bfloat16
// operands, or an input with inf or NaN).
bool sparse_linear_forward_dense(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                                 const Tensor& bias, const Tensor& output);

// cpu::sparse_linear_backward_input's result through a dense loop over Wᵀ; returns as above (the
// non-finite check is on grad_output).
bool sparse_linear_backward_input_dense(const FeatureMajor& grad_output, const Tensor& values,
                                        const SparseStructure& structure, const Tensor& grad_input);

// cpu::sparse_linear_forward / cpu::sparse_linear_backward_input (same arguments, same results),
// running the sparse kernel ("sparse", the reference) or the dense one ("dense"), whichever
// run_fastest measured faster for this shape class (out, in, nnz, rows rounded up to a batch tile,
// threads).
void sparse_linear_forward_measured(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                                    const Tensor& bias, const Tensor& output);
void sparse_linear_backward_input_measured(const FeatureMajor& grad_output, const Tensor& values,
                                           const SparseStructure& structure, const Tensor& grad_input);

}  // namespace wisp::kernels::cpu
