// Per-element arithmetic of k-winners (ActivationSparsity), shared by the CPU and CUDA kernels
// (DESIGN.md §5, §7).
//
// For one sample of n units with k winners, unit i has the boost
//   boost_i = exp(beta · (k/n − duty_i))
// and the score x_i · boost_i. The k units with the largest scores win; among equal scores the
// lower index wins. The output is x_i at the winners and 0 elsewhere, and so is the gradient.
//
// The ranking is a total order written as one 64-bit key per unit: the score's bits mapped to an
// unsigned integer that orders like the float (high 32 bits) and the complement of the index
// (low 32 bits, so that a lower index gives a larger key). The k winners are then simply the k
// largest keys: any selection algorithm (nth_element on the CPU, a radix select on the GPU) gives
// the same winners, ties included, with no comparator to get wrong.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/macros.h"

namespace wisp::kernels {

// The boost of one unit; computed in double so that exp does not overflow for any sensible beta
// (float's exp overflows above 88).
WISP_HOST_DEVICE inline double k_winners_boost(float duty_cycle, double target_density, double beta) {
  return exp(beta * (target_density - static_cast<double>(duty_cycle)));
}

// The ranking score of one value: x · boost rounded to float. NaN (from a NaN input, or 0 · inf
// for absurd boosts) ranks below every number rather than breaking the order, and −0 is made +0
// so that equal scores compare equal (the key below would otherwise put −0 under +0).
WISP_HOST_DEVICE inline float k_winners_score(float x, double boost) {
  const float score = static_cast<float>(static_cast<double>(x) * boost);
  if (score != score) return -INFINITY;
  if (score == 0.0f) return 0.0f;
  return score;
}

// The ranking key of `unit` with `score` (see the top of this file): larger key = stronger unit.
WISP_HOST_DEVICE inline uint64_t k_winners_key(float score, uint32_t unit) {
  uint32_t bits;
  memcpy(&bits, &score, sizeof bits);
  // Negative floats order backwards as integers: flip all their bits; set the sign bit of
  // non-negative ones so that they sit above every negative one.
  const uint32_t ordered = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (static_cast<uint64_t>(ordered) << 32) | static_cast<uint64_t>(~unit);
}

// The unit a key was made for.
WISP_HOST_DEVICE inline uint32_t k_winners_key_unit(uint64_t key) { return ~static_cast<uint32_t>(key); }

// Output and gradient of one element: passed through at winners, 0 elsewhere.
WISP_HOST_DEVICE inline float k_winners_pass(float value, uint8_t won) { return won ? value : 0.0f; }

// The duty cycle after one training batch: an exponential moving average, with rate alpha, of the
// fraction of the batch's samples in which the unit won (a fraction in [0, 1], not a count).
WISP_HOST_DEVICE inline float k_winners_duty_update(float duty_cycle, int64_t wins, int64_t samples, double alpha) {
  const double fraction = static_cast<double>(wins) / static_cast<double>(samples);
  return static_cast<float>((1.0 - alpha) * static_cast<double>(duty_cycle) + alpha * fraction);
}

}  // namespace wisp::kernels
