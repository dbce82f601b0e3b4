// Parallel helpers for CPU kernels.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace wisp::kernels::cpu {

// Elements below which a loop runs on one thread: starting threads costs more than it saves.
constexpr int64_t kParallelThreshold = 32768;

// Σ term(i) for i in [0, n), accumulated in `Accumulator`, in parallel when n is large. Each thread
// sums a fixed contiguous slice and the partial sums are added in thread order, so the result is
// the same on every run with the same thread count (an OpenMP reduction clause adds partials in
// arrival order instead). Within a slice, kSumLanes running sums (element i goes to sum i mod
// kSumLanes, counted from the slice's start) are added in lane order at the end: the compiler
// vectorises those without reassociating anything, so the result does not depend on the vector
// width either. An `omp simd` reduction into one double was left scalar by GCC 12 (measurements:
// docs/benchmarks.md, Kernel design log).
constexpr int kSumLanes = 8;

template <class Accumulator, class Term>
Accumulator deterministic_sum(int64_t n, Term term) {
  const bool parallel = n > kParallelThreshold;
  std::vector<Accumulator> partials(static_cast<size_t>(parallel ? omp_get_max_threads() : 1), Accumulator(0));
  int64_t used_threads = 1;
#pragma omp parallel if (parallel)
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int64_t begin = n * thread / threads, end = n * (thread + 1) / threads;
    Accumulator lanes[kSumLanes] = {};
    int64_t i = begin;
    for (; i + kSumLanes <= end; i += kSumLanes)
      for (int lane = 0; lane < kSumLanes; ++lane) lanes[lane] += static_cast<Accumulator>(term(i + lane));
    for (int lane = 0; i < end; ++i, ++lane) lanes[lane] += static_cast<Accumulator>(term(i));
    Accumulator local = 0;
    for (int lane = 0; lane < kSumLanes; ++lane) local += lanes[lane];
    partials[static_cast<size_t>(thread)] = local;
    if (thread == 0) used_threads = threads;
  }
  Accumulator total = 0;
  for (int64_t k = 0; k < used_threads; ++k) total += partials[static_cast<size_t>(k)];
  return total;
}

// sums[c] = Σ_r values[r, c] for values [rows, cols] row-major (bias gradients), accumulated in
// double (a float total loses 1% over a million rows and stalls at 2^24 times a term). Threads take
// blocks of columns and walk the rows in order, so reads stay contiguous and the result does not
// depend on the thread count.
inline void column_sums(const float* values, int64_t rows, int64_t cols, float* sums) {
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t begin = block * kBlock, end = std::min(cols, begin + kBlock);
    double totals[kBlock] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = values + r * cols;
      for (int64_t c = begin; c < end; ++c) totals[c - begin] += row[c];
    }
    for (int64_t c = begin; c < end; ++c) sums[c] = static_cast<float>(totals[c - begin]);
  }
}

}  // namespace wisp::kernels::cpu
