// positions Int64 values in [0, cells) (o · in + i of an out × in matrix), sorted in place.
#include "wisp/kernels/cpu/rigl_sort.h"

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace wisp::kernels::cpu::rigl_detail {

// An LSD radix sort with 11-bit digits, as many passes as cells needs bits (3 for a 20000 × 20000
// layer); faster than std::sort on the grow step's million positions (measurements:
// docs/benchmarks.md, Kernel design log).
void sort_positions(int64_t* positions, int64_t count, int64_t cells) {
  constexpr int kDigitBits = 11;
  constexpr int64_t kBuckets = int64_t(1) << kDigitBits;
  int bits = 1;
  while (bits < 63 && (int64_t(1) << bits) < cells) ++bits;
  std::vector<int64_t> buffer(static_cast<size_t>(count));
  int64_t* from = positions;
  int64_t* to = buffer.data();
  for (int shift = 0; shift < bits; shift += kDigitBits) {
    std::vector<int64_t> offsets(kBuckets + 1, 0);
    for (int64_t j = 0; j < count; ++j) ++offsets[static_cast<size_t>(((from[j] >> shift) & (kBuckets - 1)) + 1)];
    for (int64_t b = 0; b < kBuckets; ++b) offsets[static_cast<size_t>(b + 1)] += offsets[static_cast<size_t>(b)];
    for (int64_t j = 0; j < count; ++j)
      to[offsets[static_cast<size_t>((from[j] >> shift) & (kBuckets - 1))]++] = from[j];
    std::swap(from, to);
  }
  if (from != positions) std::copy(from, from + count, positions);
}

}  // namespace wisp::kernels::cpu::rigl_detail
