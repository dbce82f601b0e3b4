// Per-element logic of the reductions, shared by the CPU and CUDA twins (DESIGN.md §5).
#pragma once

#include <cstdint>
#include <type_traits>

#include "wisp/core/macros.h"

namespace wisp::kernels {

// The accumulator of a sum: double for float32 (exact enough for millions of terms); for integers
// uint64, whose wrap-around is defined (the int64 result is the same two's-complement sum, wrapped
// as PyTorch's; a signed accumulator's overflow would be undefined behaviour).
template <class T>
using SumAccumulator = std::conditional_t<std::is_floating_point<T>::value, double, uint64_t>;
// The output element type of a sum: float32 for float32, int64 for integers.
template <class T>
using SumOutput = std::conditional_t<std::is_floating_point<T>::value, float, int64_t>;

// argmax's scan: whether `value` at a later index replaces `best`. Strictly greater wins (the first
// index wins ties); NaN counts as the maximum and the first NaN stays, as in PyTorch.
template <class T>
WISP_HOST_DEVICE inline bool argmax_replaces(T value, T best) {
  if constexpr (std::is_floating_point<T>::value) {
    if (best != best) return false;   // best is NaN
    if (value != value) return true;  // value is NaN
  }
  return value > best;
}

// The index s in [0, size) of the largest column[s · stride] by argmax_replaces' rule (size ≥ 1):
// the scan over one reduced column, the same on both devices.
template <class T>
WISP_HOST_DEVICE inline int64_t argmax_of_column(const T* column, int64_t size, int64_t stride) {
  int64_t best = 0;
  T best_value = column[0];
  for (int64_t s = 1; s < size; ++s) {
    const T value = column[s * stride];
    if (argmax_replaces(value, best_value)) {
      best = s;
      best_value = value;
    }
  }
  return best;
}

}  // namespace wisp::kernels
