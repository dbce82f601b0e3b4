// Per-element arithmetic of the random kernels, shared by the CPU and CUDA twins (DESIGN.md §5):
// both draw from core/random.h's counter-based stream, so a seed gives the same numbers on every
// device and thread count.
#pragma once

#include <cstdint>

#include "wisp/core/macros.h"
#include "wisp/core/random.h"

namespace wisp::kernels {

// 1 with probability `probability`, else 0, from counter `counter` of stream `key`: a 24-bit
// uniform u in [0, 1) and u < probability. Probabilities at or below 0 never draw 1, at or above 1
// always do (the ops check that they lie in [0, 1]).
WISP_HOST_DEVICE inline bool bernoulli_draw(uint64_t key, uint64_t counter, float probability) {
  return uniform_from_bits(random_bits(key, counter)) < probability;
}

}  // namespace wisp::kernels
