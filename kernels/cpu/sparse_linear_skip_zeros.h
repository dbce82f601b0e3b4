// CPU forward of the sparse linear layer that skips zero inputs: y = x Wᵀ + bias computed over the
// CSC order, visiting only the input features that are nonzero in some batch row. After ReLU or
// k-winners most inputs are zero, and the columns of W at those inputs need not be read at all;
// the CSR forward (kernels/cpu/sparse_linear_forward.cpp) reads every nonzero of W whatever x is.
//
// It scatters w · x[i] into the outputs of column i, so each output is summed in column order
// rather than in the CSR forward's (vectorised) row order: results differ from it in rounding.
// kernels/sparse_linear_inference.cpp chooses between the two by measurement, in inference only.
#pragma once

#include <cstdint>
#include <vector>

#include "wisp/core/tensor.h"
#include "wisp/kernels/sparse_linear.h"

namespace wisp::kernels::cpu {

// The most batch rows the zero-skipping forward takes: a column is skipped only when it is zero in
// every row, which becomes rare as the batch grows, and the scatter's cost grows with every row.
constexpr int64_t kSkipZerosMaxRows = 4;

// The input features of a batch that are nonzero in at least one of its rows, in increasing order.
struct ActiveInputs {
  std::vector<int64_t> features;
  int64_t in_features = 0;
  // The fraction of input features that are zero in every row (1 when there are no features).
  double zero_fraction() const {
    return in_features == 0 ? 1.0 : 1.0 - static_cast<double>(features.size()) / static_cast<double>(in_features);
  }
};

// Scans input.data [in, stride] (input.rows rows) for the features that are nonzero in some row.
// A NaN counts as nonzero; -0.0 as zero.
ActiveInputs find_active_inputs(const FeatureMajor& input);

// values [nnz] in CSC order (copy[k] = values[csc_to_value[k]]), made once and kept while the
// values and structure.csc_to_value are the same storages at the same versions (Tensor::version):
// across inference calls on unchanged weights it is made once. The zero-skipping forward reads the
// values through it: through the permutation each nonzero is a random read, which measured 2 to 7
// times slower at batch 1 (2-core AVX2 EPYC, 20000 and 50000 wide layers). Holds one float per connection for each of
// the last 16 layers used, and none for a layer once its values are freed. Thread safe.
Tensor csc_ordered_values(const Tensor& values, const SparseStructure& structure);

// output [rows, out] = x · Wᵀ + bias over the CSC order of `structure` (column_pointers,
// row_indices; the row-index dtype may differ from the pointer dtype) and csc_values
// (csc_ordered_values), reading only the columns in `active` (find_active_inputs(input)); 1 to
// kSkipZerosMaxRows rows. A column skipped this way contributes exactly zero, also where W holds an
// infinity (the CSR forward would give NaN).
// Threads take ranges of active columns balanced by their nonzeros and scatter into private outputs
// that are then added in thread order: results are the same on every run with the same thread
// count.
void sparse_linear_forward_skip_zeros(const FeatureMajor& input, const ActiveInputs& active, const Tensor& csc_values,
                                      const SparseStructure& structure, const Tensor& bias, const Tensor& output);

}  // namespace wisp::kernels::cpu
