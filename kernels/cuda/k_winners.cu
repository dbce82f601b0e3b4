// CUDA twins of k-winners (kernels/cuda/k_winners.h).
//
// Forward: the boosts [units] are computed once (kernels/k_winners_math.h, bit-identical to the
// CPU's), then one block per sample finds the k-th largest 64-bit ranking key by a radix select,
// 8 bits per pass from the top: each pass histograms the digit of the keys that still agree with
// the bits found so far, and a suffix sum over the 256 bins picks the bin holding the k-th key.
// It stops as soon as that bin's keys all win (their count equals the rank still sought), at most
// after 8 passes. Keys are recomputed from the input on every pass rather than stored: a row is
// at most a few hundred kB and stays in L2, and the keys would need twice its size. A unit wins
// when its key is at least the threshold: keys are distinct, so exactly k do, as on the CPU.
#include "wisp/kernels/cuda/k_winners.h"

#include <algorithm>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cuda/launch.h"
#include "wisp/kernels/k_winners_math.h"

namespace wisp::kernels::cuda {
namespace {

constexpr int kDigitBits = 8;
constexpr int kBins = 1 << kDigitBits;
// One histogram bin per thread, so that the suffix sum over the bins is one shared-memory scan.
constexpr int kSelectThreads = kBins;
constexpr int kWarpSize = 32;
constexpr unsigned kFullWarp = 0xffffffffu;
static_assert(kSelectThreads % kWarpSize == 0, "whole warps: every lane takes part in __match_any_sync");
static_assert(64 % kDigitBits == 0, "the passes cover the 64-bit key exactly");

// boost [units] (double) = k_winners_boost(duty_cycle [units], target_density, beta).
__global__ void boost_kernel(int64_t units, const float* duty_cycle, double target_density, double beta,
                             double* boost) {
  for (int64_t i = grid_first(); i < units; i += grid_step())
    boost[i] = k_winners_boost(duty_cycle[i], target_density, beta);
}

// The ranking key of unit i of one sample (x_row [units], boost [units]); units < 2^32.
__device__ inline uint64_t key_of(const float* x_row, const double* boost, int64_t i) {
  return k_winners_key(k_winners_score(x_row[i], boost[i]), static_cast<uint32_t>(i));
}

// x, y, mask [samples, units] row-major; boost [units] (double); win_counts [units], zeroed, or
// null. One block of kSelectThreads threads per sample (grid-stride over samples); 1 ≤ k < units.
__global__ void __launch_bounds__(kSelectThreads)
    select_winners_kernel(int64_t samples, const float* x, const double* boost, int64_t units, int64_t k, float* y,
                          uint8_t* mask, unsigned long long* win_counts) {
  __shared__ uint32_t bin_counts[kBins];
  __shared__ uint32_t at_or_above[kBins];  // Σ of bin_counts over the bins ≥ this one
  __shared__ uint32_t chosen_digit, chosen_count, chosen_rank;
  const int bin = static_cast<int>(threadIdx.x);
  const unsigned lane = threadIdx.x % kWarpSize;

  for (int64_t sample = blockIdx.x; sample < samples; sample += gridDim.x) {
    const float* x_row = x + sample * units;
    // Invariant: the threshold (the k-th largest key) has the bits under `known` equal to `prefix`
    // and is the rank-th largest of the keys that do. Counts fit in 32 bits: units < 2^32.
    uint64_t prefix = 0, known = 0;
    uint32_t rank = static_cast<uint32_t>(k);
    for (int shift = 64 - kDigitBits;; shift -= kDigitBits) {
      bin_counts[bin] = 0;
      __syncthreads();
      // The trip count is the same for every thread, so whole warps reach __match_any_sync.
      for (int64_t base = 0; base < units; base += kSelectThreads) {
        const int64_t i = base + bin;
        uint32_t digit = kBins;  // kBins: not a candidate
        if (i < units) {
          const uint64_t key = key_of(x_row, boost, i);
          if ((key & known) == prefix) digit = static_cast<uint32_t>(key >> shift) & (kBins - 1);
        }
        // Scores cluster in few bins (the top digit is the sign and exponent): lanes with one digit
        // add their number once, through the lowest of them, rather than contend for one counter.
        const unsigned same_digit = __match_any_sync(kFullWarp, digit);
        if (digit < kBins && lane == static_cast<unsigned>(__ffs(same_digit) - 1))
          atomicAdd(&bin_counts[digit], static_cast<uint32_t>(__popc(same_digit)));
      }
      __syncthreads();
      // Suffix sums over the bins (Hillis-Steele: log2(kBins) steps, read, sync, write, sync).
      uint32_t total = bin_counts[bin];
      at_or_above[bin] = total;
      __syncthreads();
      for (int offset = 1; offset < kBins; offset *= 2) {
        const uint32_t higher = bin + offset < kBins ? at_or_above[bin + offset] : 0;
        __syncthreads();
        total += higher;
        at_or_above[bin] = total;
        __syncthreads();
      }
      // Exactly one bin holds the rank-th largest candidate: at_or_above falls from the number of
      // candidates (≥ rank) at bin 0 to the top bin's count, and 0 lies above the top bin.
      const uint32_t above = bin + 1 < kBins ? at_or_above[bin + 1] : 0;
      if (above < rank && rank <= total) {
        chosen_digit = static_cast<uint32_t>(bin);
        chosen_count = bin_counts[bin];
        chosen_rank = rank - above;
      }
      __syncthreads();
      prefix |= static_cast<uint64_t>(chosen_digit) << shift;
      known |= static_cast<uint64_t>(kBins - 1) << shift;
      rank = chosen_rank;
      // When every key of the chosen bin wins, the bin's smallest possible key (prefix, lower bits
      // 0) separates the winners: k − rank keys in higher bins, rank in this one. The last pass
      // always ends here (distinct keys: one per bin); `shift == 0` only bounds the loop.
      if (chosen_count == rank || shift == 0) break;
      // No sync needed before the next pass: chosen_* is rewritten only after two more.
    }
    const uint64_t weakest_winner = prefix;
    float* y_row = y + sample * units;
    uint8_t* mask_row = mask + sample * units;
    for (int64_t i = bin; i < units; i += kSelectThreads) {
      const uint8_t won = key_of(x_row, boost, i) >= weakest_winner ? 1 : 0;
      mask_row[i] = won;
      y_row[i] = k_winners_pass(x_row[i], won);
      if (won && win_counts != nullptr) atomicAdd(win_counts + i, 1ull);
    }
  }
}

// k = units: every unit wins. x, y, mask [n] (n = samples · units).
__global__ void all_win_kernel(int64_t n, const float* x, float* y, uint8_t* mask) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) {
    y[i] = x[i];
    mask[i] = 1;
  }
}

// win_counts [units] = samples (everyone won every sample).
__global__ void fill_counts_kernel(int64_t units, int64_t samples, int64_t* win_counts) {
  for (int64_t i = grid_first(); i < units; i += grid_step()) win_counts[i] = samples;
}

// grad_input, grad_output, mask [n]: the gradient at the winners, 0 elsewhere.
__global__ void backward_kernel(int64_t n, const float* grad_output, const uint8_t* mask, float* grad_input) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) grad_input[i] = k_winners_pass(grad_output[i], mask[i]);
}

// duty_cycle [units] in place, win_counts [units].
__global__ void duty_update_kernel(int64_t units, float* duty_cycle, const int64_t* win_counts, int64_t samples,
                                   double alpha) {
  for (int64_t i = grid_first(); i < units; i += grid_step())
    duty_cycle[i] = k_winners_duty_update(duty_cycle[i], win_counts[i], samples, alpha);
}

}  // namespace

void k_winners_forward(const Tensor& input, const Tensor& duty_cycle, int64_t samples, int64_t units, int64_t k,
                       double beta, const Tensor& output, const Tensor& mask, const Tensor& win_counts) {
  const DeviceScope scope(input);
  if (k == units) {  // everyone wins: no ranking needed (as on the CPU)
    launch(all_win_kernel, samples * units, pointer<float>(input), mutable_pointer<float>(output),
           mutable_pointer<uint8_t>(mask));
    if (win_counts.defined()) launch(fill_counts_kernel, units, samples, mutable_pointer<int64_t>(win_counts));
    return;
  }
  // Counts are non-negative, so int64 and unsigned long long (what atomicAdd takes) agree.
  unsigned long long* counts = nullptr;
  if (win_counts.defined()) {
    counts = reinterpret_cast<unsigned long long*>(mutable_pointer<int64_t>(win_counts));
    zero_on_device(counts, static_cast<size_t>(units) * sizeof(int64_t));
  }
  if (samples == 0) return;
  // The boosts, shared by every sample: double [units] in an int64 scratch tensor of the same
  // size from the caching allocator (wisp has no float64 dtype). Freeing it at the end of this
  // scope is safe: its next user is ordered after these kernels on the same stream.
  const Tensor boost_storage = empty({units}, TensorOptions(DType::Int64).device(input.device()));
  double* boost = mutable_pointer<double>(boost_storage);
  const double target_density = static_cast<double>(k) / static_cast<double>(units);
  launch(boost_kernel, units, pointer<float>(duty_cycle), target_density, beta, boost);
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(samples, kMaxBlocks));
  launch_blocks(select_winners_kernel, dim3(blocks), dim3(kSelectThreads), samples, pointer<float>(input),
                static_cast<const double*>(boost), units, k, mutable_pointer<float>(output),
                mutable_pointer<uint8_t>(mask), counts);
}

void k_winners_backward(const Tensor& grad_output, const Tensor& mask, const Tensor& grad_input) {
  const DeviceScope scope(grad_input);
  launch(backward_kernel, grad_input.numel(), pointer<float>(grad_output), pointer<uint8_t>(mask),
         mutable_pointer<float>(grad_input));
}

void k_winners_update_duty_cycle(const Tensor& duty_cycle, const Tensor& win_counts, int64_t samples, double alpha) {
  const DeviceScope scope(duty_cycle);
  launch(duty_update_kernel, duty_cycle.numel(), mutable_pointer<float>(duty_cycle), pointer<int64_t>(win_counts),
         samples, alpha);
}

}  // namespace wisp::kernels::cuda
