// What the two grow passes of RigL's CPU twin share (kernels/cpu/rigl_grow.cpp, fp32;
// kernels/cpu/rigl_bf16_screen.cpp, bf16-screened): the problem as they read it, the exclusion of
// the nonzeros that stay, and the loop that hands tiles of G = gᵀ x to threads with their own
// running top-k. Internal to the CPU twin.
//
// g = grad_output [rows, out] and x = input [rows, in], batch-major float32 (Eigen maps, no copy);
// G [out, in] row-major positions o · in + i.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

// GCC 12 reports a false "may be used uninitialized" inside Eigen's AVX-512 GEMM packing (as in
// kernels/cpu/linear.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop

#include "wisp/kernels/cpu/rigl_top_k.h"

namespace wisp::kernels::cpu::rigl_detail {

const float kNotACandidate = std::numeric_limits<float>::quiet_NaN();

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMatrixMap = Eigen::Map<const RowMajorMatrix>;
using MatrixMap = Eigen::Map<RowMajorMatrix>;

// The inputs of the grow step, as both grow passes read them.
template <class Index>
struct GrowProblem {
  ConstMatrixMap g;  // grad_output [rows, out]
  ConstMatrixMap x;  // input [rows, in]
  const Index* row_pointers;
  const Index* column_indices;
  const uint8_t* dropped;  // [nnz]: 1 where a nonzero was just dropped (it competes); the others stay
  int64_t out, in, count;
  uint64_t tie_seed;
};

// Overwrites the kept nonzeros of output row o that fall in columns [column_begin, column_begin +
// width) of `scores` (G[o, column_begin ...]) with NaN, which fails every comparison and so never
// competes (nor does a NaN gradient, which only a diverged run produces). Columns are sorted.
template <class Index>
void exclude_kept(const GrowProblem<Index>& p, int64_t o, int64_t column_begin, int64_t width, float* scores) {
  const Index* row_columns = p.column_indices + p.row_pointers[o];
  const Index* row_end = p.column_indices + p.row_pointers[o + 1];
  for (const Index* c = std::lower_bound(row_columns, row_end, static_cast<Index>(column_begin));
       c < row_end && *c < column_begin + width; ++c) {
    if (!p.dropped[c - p.column_indices]) scores[static_cast<int64_t>(*c) - column_begin] = kNotACandidate;
  }
}

struct PassResult {
  std::vector<Candidate> best;  // the best min(count, admitted) candidates at or above the floor
  int64_t admitted = 0;         // candidates at or above the floor that were pushed
};

// Runs visit_tile(t, top, scratch) for every tile t in [0, tiles), threads taking tiles
// dynamically, each with its own RunningTopK(count, floor) and a scratch buffer of scratch_floats;
// returns every thread's best, merged, with the number of candidates they admitted.
template <class VisitTile>
PassResult run_tiles(int64_t tiles, int64_t count, float floor, uint64_t tie_seed, int64_t scratch_floats,
                     VisitTile visit_tile) {
  const int threads = std::max(1, static_cast<int>(std::min<int64_t>(omp_get_max_threads(), tiles)));
  std::vector<std::vector<Candidate>> best(static_cast<size_t>(threads));
  std::vector<int64_t> admitted(static_cast<size_t>(threads), 0);
#pragma omp parallel num_threads(threads)
  {
    RunningTopK top(count, floor, tie_seed);
    std::vector<float> scratch(static_cast<size_t>(scratch_floats));
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tiles; ++t) visit_tile(t, top, scratch.data());
    const int thread = omp_get_thread_num();
    admitted[static_cast<size_t>(thread)] = top.pushed();
    best[static_cast<size_t>(thread)] = std::move(top.finish());
  }
  PassResult result;
  for (size_t t = 0; t < best.size(); ++t) {
    result.best.insert(result.best.end(), best[t].begin(), best[t].end());
    result.admitted += admitted[t];
  }
  return result;
}

}  // namespace wisp::kernels::cpu::rigl_detail
