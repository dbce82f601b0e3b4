// CPU twin of RigL's drop step (kernels/rigl.h): values [nnz] float32 -> mask UInt8 [nnz].
#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/parallel.h"
#include "wisp/kernels/cpu/rigl.h"
#include "wisp/kernels/rigl_math.h"

namespace wisp::kernels::cpu {

// values [nnz] float32; mask UInt8 [nnz]. A radix select on the magnitudes' bits (for floats ≥ 0
// the bit patterns order like the values): a histogram of the top 16 bits finds the bucket that
// holds the count-th smallest, nth_element on that bucket's keys finds the key itself, and everything
// below it is dropped, plus those equal to it with the lowest tie ranks until `count` is reached.
// Two parallel passes over the values instead of a serial nth_element over all of them
// (measurements: docs/benchmarks.md, Kernel design log).
void smallest_magnitude_mask(const Tensor& values, int64_t count, uint64_t tie_seed, const Tensor& mask) {
  const int64_t nnz = values.numel();
  const float* v = pointer<float>(values);
  uint8_t* m = mutable_pointer<uint8_t>(mask);
  const auto key = [v](int64_t k) { return rigl_magnitude_bits(v[k]); };  // kernels/rigl_math.h
  if (count == 0) {
    std::fill(m, m + nnz, uint8_t(0));
    return;
  }
  constexpr int64_t kBuckets = int64_t(1) << 16;
  const bool parallel = nnz > kParallelThreshold;
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<int64_t> histograms(static_cast<size_t>(threads * kBuckets), 0);
#pragma omp parallel num_threads(threads)
  {
    int64_t* histogram = histograms.data() + omp_get_thread_num() * kBuckets;
#pragma omp for schedule(static)
    for (int64_t k = 0; k < nnz; ++k) ++histogram[key(k) >> 16];
  }
  int64_t below = 0;  // keys in the buckets before `bucket`
  uint32_t bucket = 0;
  for (;; ++bucket) {
    int64_t in_bucket = 0;
    for (int t = 0; t < threads; ++t) in_bucket += histograms[static_cast<size_t>(t * kBuckets + bucket)];
    if (below + in_bucket >= count) break;
    below += in_bucket;
  }
  std::vector<uint32_t> candidates;
  for (int64_t k = 0; k < nnz; ++k)
    if ((key(k) >> 16) == bucket) candidates.push_back(key(k));
  const int64_t rank = count - below - 1;  // of the threshold key among the bucket's keys
  std::nth_element(candidates.begin(), candidates.begin() + rank, candidates.end());
  const uint32_t threshold = candidates[static_cast<size_t>(rank)];
  int64_t less = below;
  for (uint32_t candidate : candidates) less += candidate < threshold;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t k = 0; k < nnz; ++k) m[k] = key(k) < threshold;
  const int64_t ties = count - less;  // to drop among the magnitudes equal to the threshold
  if (ties > 0) {
    std::vector<std::pair<uint64_t, int64_t>> tied;  // (tie rank, index)
    for (int64_t k = 0; k < nnz; ++k)
      if (key(k) == threshold) tied.emplace_back(rigl_tie_rank(k, tie_seed), k);
    std::nth_element(tied.begin(), tied.begin() + (ties - 1), tied.end());
    for (int64_t j = 0; j < ties; ++j) m[tied[static_cast<size_t>(j)].second] = 1;
  }
}

}  // namespace wisp::kernels::cpu
