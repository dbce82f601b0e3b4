#include "wisp/kernels/cpu/k_winners.h"

#include <omp.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/parallel.h"
#include "wisp/kernels/k_winners_math.h"

namespace wisp::kernels::cpu {
namespace {

// Columns per block when summing the mask over samples: each thread owns whole blocks, so the
// sums need no synchronisation (and, being integers, are exact in any order).
constexpr int64_t kCountBlock = 1024;

// The selection's radix pass sorts keys into buckets by their top bits (the sign, exponent and
// first mantissa bits of the score).
constexpr int kBucketBits = 11;
constexpr int64_t kBuckets = int64_t{1} << kBucketBits;

inline int64_t bucket_of(uint64_t key) { return static_cast<int64_t>(key >> (64 - kBucketBits)); }

// One sample: computes the ranking keys (kernels/k_winners_math.h), counts them per bucket, finds
// the bucket that holds the k-th largest key, and runs nth_element only on the keys in that bucket
// (usually a few percent of them) to find the k-th largest key itself. A unit wins when its key is
// at least that one: keys are distinct, so exactly k do, ties on the score going to the lower
// index. O(units) on average; 4x faster than nth_element over all the keys (docs/layers.md).
// `keys` and `candidates` are scratch space for `units` keys each.
inline void select_winners(const float* x, const double* boost, int64_t units, int64_t k, uint64_t* keys,
                           uint64_t* candidates, uint8_t* won, float* out) {
  // Two loops, not one: the keys alone vectorise, and the loop was 5x slower with the histogram in it.
  for (int64_t i = 0; i < units; ++i)
    keys[i] = k_winners_key(k_winners_score(x[i], boost[i]), static_cast<uint32_t>(i));
  int64_t histogram[kBuckets] = {};
  for (int64_t i = 0; i < units; ++i) ++histogram[bucket_of(keys[i])];
  // Walk down from the strongest bucket until it holds the k-th largest key.
  int64_t stronger = 0, bucket = kBuckets - 1;
  while (stronger + histogram[bucket] < k) stronger += histogram[bucket--];
  int64_t count = 0;
  for (int64_t i = 0; i < units; ++i)
    if (bucket_of(keys[i]) == bucket) candidates[count++] = keys[i];
  const int64_t rank_in_bucket = k - stronger - 1;  // 0 = the bucket's largest key
  std::nth_element(candidates, candidates + rank_in_bucket, candidates + count, std::greater<uint64_t>());
  const uint64_t weakest_winner = candidates[rank_in_bucket];
  for (int64_t i = 0; i < units; ++i) {
    const uint8_t is_winner = keys[i] >= weakest_winner;
    won[i] = is_winner;
    out[i] = k_winners_pass(x[i], is_winner);
  }
}

// win_counts[j] = Σ_samples mask[s, j].
void count_wins(const uint8_t* mask, int64_t samples, int64_t units, int64_t* win_counts) {
  const int64_t blocks = (units + kCountBlock - 1) / kCountBlock;
#pragma omp parallel for schedule(static) if (blocks > 1 && samples * units > kParallelThreshold)
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t begin = block * kCountBlock, end = std::min(units, begin + kCountBlock);
    int64_t* counts = win_counts + begin;
    const int64_t width = end - begin;
    for (int64_t j = 0; j < width; ++j) counts[j] = 0;
    for (int64_t s = 0; s < samples; ++s) {
      const uint8_t* row = mask + s * units + begin;
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) counts[j] += row[j];
    }
  }
}

}  // namespace

// input, output: [samples, units] float32 row-major; duty_cycle: [units] float32;
// mask: [samples, units] uint8; win_counts: [units] int64 or undefined.
void k_winners_forward(const Tensor& input, const Tensor& duty_cycle, int64_t samples, int64_t units, int64_t k,
                       double beta, const Tensor& output, const Tensor& mask, const Tensor& win_counts) {
  const float* x = pointer<float>(input);
  const float* duty = pointer<float>(duty_cycle);
  float* y = mutable_pointer<float>(output);
  uint8_t* won = mutable_pointer<uint8_t>(mask);
  const bool parallel = samples > 1 && samples * units > kParallelThreshold;

  if (k == units) {  // everyone wins: no ranking needed
    const int64_t n = samples * units;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t i = 0; i < n; ++i) {
      won[i] = 1;
      y[i] = x[i];
    }
  } else if (samples > 0) {
    // The boosts depend on the unit only: computed once, shared by every sample. Scratch space is
    // allocated here, outside the parallel region, where an allocation failure can be thrown.
    const double target_density = static_cast<double>(k) / static_cast<double>(units);
    std::vector<double> boost(static_cast<size_t>(units));
    for (int64_t i = 0; i < units; ++i) boost[static_cast<size_t>(i)] = k_winners_boost(duty[i], target_density, beta);
    const int64_t max_threads = parallel ? omp_get_max_threads() : 1;
    std::vector<uint64_t> scratch(static_cast<size_t>(2 * max_threads * units));
#pragma omp parallel if (parallel)
    {
      uint64_t* my_keys = scratch.data() + 2 * omp_get_thread_num() * units;
      uint64_t* my_candidates = my_keys + units;
#pragma omp for schedule(static)
      for (int64_t s = 0; s < samples; ++s)
        select_winners(x + s * units, boost.data(), units, k, my_keys, my_candidates, won + s * units, y + s * units);
    }
  }
  if (win_counts.defined()) count_wins(won, samples, units, mutable_pointer<int64_t>(win_counts));
}

// grad_output, grad_input: [samples, units] float32; mask: [samples, units] uint8 (same numel).
void k_winners_backward(const Tensor& grad_output, const Tensor& mask, const Tensor& grad_input) {
  const float* g = pointer<float>(grad_output);
  const uint8_t* won = pointer<uint8_t>(mask);
  float* dx = mutable_pointer<float>(grad_input);
  const int64_t n = grad_input.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) dx[i] = k_winners_pass(g[i], won[i]);
}

// duty_cycle: [units] float32, updated in place; win_counts: [units] int64; samples > 0.
void k_winners_update_duty_cycle(const Tensor& duty_cycle, const Tensor& win_counts, int64_t samples, double alpha) {
  float* duty = mutable_pointer<float>(duty_cycle);
  const int64_t* wins = pointer<int64_t>(win_counts);
  const int64_t units = duty_cycle.numel();
  for (int64_t i = 0; i < units; ++i) duty[i] = k_winners_duty_update(duty[i], wins[i], samples, alpha);
}

}  // namespace wisp::kernels::cpu
