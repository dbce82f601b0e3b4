// The cuSPARSE comparison of sparse_bench --device cuda: the forward of bench/cuda/cusparse.h over
// the layer's own CSR matrix, with each SpMM algorithm (ALG_DEFAULT, CSR_ALG1, CSR_ALG2, CSR_ALG3)
// on activations batch-major (no transposition) and feature-major (as wisp's kernel takes them: the
// input's transposition and the output's included), and at batch 1 each SpMV algorithm
// (ALG_DEFAULT, CSR_ALG1, CSR_ALG2). Each output is compared with wisp's.
#pragma once

#include <cstdint>

#include "results.h"
#include "wisp/core/tensor.h"
#include "wisp/layers/sparse_linear.h"

namespace wisp::sparse_bench {

// Adds, for input x (on the layer's GPU; [n] at batch 1, else [batch, n]), each case's time
// ("cusparse_<algorithm>[_<layout>]_forward", median of `reps` after `warmups`), its largest
// difference from wisp's output ("..._max_difference") and the best time
// ("cusparse_best_forward"); cases cuSPARSE refuses or that fail become notes. Returns false when
// an output differs from wisp's by more than float rounding explains (a note says by how much).
bool add_cusparse_rows(Results& results, nn::SparseLinear& sparse, const Tensor& x, int64_t batch, int reps,
                       int warmups);

}  // namespace wisp::sparse_bench
