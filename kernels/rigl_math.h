// The orders that RigL's drop and grow steps select by, shared by the CPU and CUDA twins
// (kernels/cpu/rigl_*.cpp, kernels/cuda/rigl.cu), and the radix select the CUDA twins run over them.
// Host/device functions (DESIGN.md §5); no CUDA headers.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "wisp/core/error.h"
#include "wisp/core/macros.h"

namespace wisp::kernels {

// The order among equal magnitudes in the RigL kernels: the lower tie rank goes first (the lower
// index or position when two ranks collide, which cannot happen: for a fixed seed the rank is a
// bijection of the index, an addition followed by splitmix64's invertible finaliser). Reproducible,
// and independent of the tiling, the thread count and the device, but spread over the matrix.
// Breaking ties by the lower position instead would pile every tied growth into the first rows: in
// the wide model's last layer, whose outputs are summed per class, all 5000 rows of a class have
// bit-identical gradients, and ~11 rows would become fully dense at each update (measured: 73% test
// accuracy after 400 steps against 96% without RigL).
WISP_HOST_DEVICE inline uint64_t rigl_tie_rank(int64_t index, uint64_t seed) {
  uint64_t z = static_cast<uint64_t>(index) + seed * 0x9e3779b97f4a7c15ull + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The bits of |value|: for floats ≥ 0 (NaN aside, which sorts above +inf) the bit patterns order
// like the values, so magnitudes compare as integers.
WISP_HOST_DEVICE inline uint32_t rigl_magnitude_bits(float value) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(value) & 0x7fffffffu;
#else
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits & 0x7fffffffu;
#endif
}

// ---- selection keys --------------------------------------------------------------------------------
//
// Both steps select "the count best" under a total order: first the magnitude, then the tie rank.
// A 96-bit key per element encodes it so that the better element has the smaller key: `high` is the
// magnitude's bits (drop: smaller first) or their complement (grow: larger first), `low` the tie
// rank. Keys are unique (the rank is), so the count best are exactly the elements whose key is at
// most the count-th smallest key.
struct RiglKey {
  uint32_t high = 0;
  uint64_t low = 0;
};

// Drop order of values[index]: the smallest |value| first (NaN last, as its bits are the largest).
WISP_HOST_DEVICE inline RiglKey rigl_drop_key(float value, int64_t index, uint64_t tie_seed) {
  return RiglKey{rigl_magnitude_bits(value), rigl_tie_rank(index, tie_seed)};
}

// Grow order of a gradient `score` at `position`: the largest |score| first. Callers exclude NaN.
WISP_HOST_DEVICE inline RiglKey rigl_grow_key(float score, int64_t position, uint64_t tie_seed) {
  return RiglKey{~rigl_magnitude_bits(score), rigl_tie_rank(position, tie_seed)};
}

// ---- radix select over the keys ----------------------------------------------------------------------
//
// The CUDA twins find the count-th smallest key digit by digit, most significant first: a pass
// histograms the next digit of the keys that share the digits fixed so far (the prefix), the host
// picks the bucket where the running count reaches `count`, and the prefix grows by that digit. It
// stops as soon as every key sharing the prefix is needed; the selection is then "the top bits of
// the key are at most the prefix". Nine digits of at most 11 bits (2048 buckets: a block's
// histogram fits in shared memory): three over `high`, six over `low`. The digits of `low` are only
// reached when ties of magnitude straddle the count.
constexpr int kRiglKeyDigits = 9;
constexpr int kRiglDigitBits = 11;
constexpr int kRiglDigitBuckets = 1 << kRiglDigitBits;

// Digit d of the key: bits [shift, shift + width) of `high` (d < 3) or of `low`.
struct RiglDigit {
  bool low_word;
  int shift, width;
};
WISP_HOST_DEVICE inline RiglDigit rigl_key_digit(int d) {
  if (d < 3) return RiglDigit{false, d == 0 ? 21 : (d == 1 ? 10 : 0), d == 2 ? 10 : 11};
  const int shift = 53 - 11 * (d - 3);  // 53, 42, 31, 20, 9, then bits [0, 9)
  return shift >= 0 ? RiglDigit{true, shift, 11} : RiglDigit{true, 0, 9};
}

// The digits fixed so far: the key bits under the masks must equal high / low.
struct RiglKeyPrefix {
  uint32_t high_mask = 0, high = 0;
  uint64_t low_mask = 0, low = 0;

  // Whether the key shares the prefix (every key does while no digit is fixed).
  WISP_HOST_DEVICE bool matches(const RiglKey& key) const {
    return (key.high & high_mask) == high && (key.low & low_mask) == low;
  }
  // Whether the key's top bits (those fixed) are at most the prefix: the selection once it is final.
  WISP_HOST_DEVICE bool at_most(const RiglKey& key) const {
    const uint32_t key_high = key.high & high_mask;
    return key_high < high || (key_high == high && (key.low & low_mask) <= low);
  }
  // Whether the low word matters yet: while it does not, kernels can skip computing tie ranks.
  WISP_HOST_DEVICE bool uses_low() const { return low_mask != 0; }

  // Bucket of the key in digit d.
  WISP_HOST_DEVICE static uint32_t bucket(const RiglKey& key, int d) {
    const RiglDigit digit = rigl_key_digit(d);
    const uint64_t word = digit.low_word ? key.low : key.high;
    return static_cast<uint32_t>((word >> digit.shift) & ((uint64_t(1) << digit.width) - 1));
  }

  // Fixes digit d to `bucket`.
  void extend(int d, uint32_t bucket) {
    const RiglDigit digit = rigl_key_digit(d);
    const uint64_t mask = ((uint64_t(1) << digit.width) - 1) << digit.shift;
    if (digit.low_word) {
      low_mask |= mask;
      low |= uint64_t(bucket) << digit.shift;
    } else {
      high_mask |= static_cast<uint32_t>(mask);
      high |= bucket << digit.shift;
    }
  }
};

// The prefix whose at_most() holds for exactly the `count` smallest keys (count ≥ 1), on the host.
// histogram(prefix, d) returns the kRiglDigitBuckets counts of digit d among the keys that match
// the prefix. `what` names the candidates in the error raised when fewer than count exist.
template <class Histogram>
RiglKeyPrefix rigl_radix_select(int64_t count, const char* what, Histogram&& histogram) {
  RiglKeyPrefix prefix;
  int64_t needed = count;  // of the keys that match the prefix, how many are selected
  for (int d = 0; d < kRiglKeyDigits; ++d) {
    const std::vector<int64_t> counts = histogram(prefix, d);
    int64_t matching = 0;
    for (int64_t c : counts) matching += c;
    if (d == 0) WISP_CHECK(count <= matching, "expected at most ", matching, " ", what, " to select but got ", count);
    if (needed == matching) return prefix;
    int64_t below = 0;  // keys of the buckets before `bucket`: all selected
    uint32_t bucket = 0;
    while (below + counts[bucket] < needed) below += counts[bucket++];
    needed -= below;
    prefix.extend(d, bucket);
    if (needed == counts[bucket]) return prefix;
  }
  return prefix;  // not reached: all 96 bits fixed leave one key, which is needed
}

}  // namespace wisp::kernels
