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

#include "wisp/core/macros.h"

namespace wisp::kernels {

// e^y in double, written out so that the CPU and the GPU compute the same bits: the libraries'
// exp differ in the last bit (CUDA's is not correctly rounded), and one bit of a boost can move a
// score across a float rounding boundary and change a winner. Only IEEE operations that both
// round identically are used: rint, fma (explicit, so that no compiler contracts differently),
// ldexp. Cody-Waite reduction y = n·ln2 + r, |r| ≤ ln2/2, then Taylor to r^13 (truncation below
// 4e-18 relative): within a few ulp of e^y. NaN stays NaN; overflow gives inf, underflow 0.
WISP_HOST_DEVICE inline double k_winners_exp(double y) {
  if (y != y) return y;
  if (y > 710.0) return INFINITY;                   // beyond e^709.78, the largest double
  if (y < -746.0) return 0.0;                       // below half the smallest subnormal
  const double n = rint(y * 0x1.71547652b82fep+0);  // y / ln2, to the nearest integer
  // ln2 = ln2_high + ln2_low, ln2_high with trailing zero bits (fdlibm's split).
  const double r = fma(-n, 0x1.a39ef35793c76p-33, fma(-n, 0x1.62e42fee00000p-1, y));
  // Horner on 1/j! for j = 13 down to 0 (the coefficients are exact hexadecimal doubles).
  double p = 0x1.6124613a86d09p-33;
  p = fma(p, r, 0x1.1eed8eff8d898p-29);
  p = fma(p, r, 0x1.ae64567f544e4p-26);
  p = fma(p, r, 0x1.27e4fb7789f5cp-22);
  p = fma(p, r, 0x1.71de3a556c734p-19);
  p = fma(p, r, 0x1.a01a01a01a01ap-16);
  p = fma(p, r, 0x1.a01a01a01a01ap-13);
  p = fma(p, r, 0x1.6c16c16c16c17p-10);
  p = fma(p, r, 0x1.1111111111111p-7);
  p = fma(p, r, 0x1.5555555555555p-5);
  p = fma(p, r, 0x1.5555555555555p-3);
  p = fma(p, r, 0x1.0000000000000p-1);
  p = fma(p, r, 1.0);
  p = fma(p, r, 1.0);
  // p · 2^n: one multiplication by 2^n built from its bits (an exact product, or one IEEE rounding
  // for a subnormal result), ldexp where 2^n is not a normal double (rare: faster than always).
  const int exponent = static_cast<int>(n);
  if (exponent < -1022 || exponent > 1023) return ldexp(p, exponent);
  const uint64_t scale_bits = static_cast<uint64_t>(exponent + 1023) << 52;
  double scale;
  memcpy(&scale, &scale_bits, sizeof scale);
  return p * scale;
}

// The boost of one unit; computed in double so that exp does not overflow for any sensible beta
// (float's exp overflows above 88), with k_winners_exp so that both devices rank alike.
WISP_HOST_DEVICE inline double k_winners_boost(float duty_cycle, double target_density, double beta) {
  return k_winners_exp(beta * (target_density - static_cast<double>(duty_cycle)));
}

// The ranking score of one value: x · boost rounded to float. −0 is made +0 so that equal scores
// compare equal (the key below would otherwise put −0 under +0). NaN (from a NaN input, or 0 · inf
// for absurd boosts) stays NaN: the key ranks it below every number, −inf included.
WISP_HOST_DEVICE inline float k_winners_score(float x, double boost) {
  const float score = static_cast<float>(static_cast<double>(x) * boost);
  if (score == 0.0f) return 0.0f;
  return score;
}

// The ranking key of `unit` with `score` (see the top of this file): larger key = stronger unit.
WISP_HOST_DEVICE inline uint64_t k_winners_key(float score, uint32_t unit) {
  uint32_t bits;
  memcpy(&bits, &score, sizeof bits);
  // Negative floats order backwards as integers: flip all their bits; set the sign bit of
  // non-negative ones so that they sit above every negative one. −inf maps to 0x007fffff, so NaN
  // (any payload or sign) takes 0, below it: NaNs then tie among themselves, lower index first.
  const uint32_t ordered = score != score ? 0u : (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (static_cast<uint64_t>(ordered) << 32) | static_cast<uint64_t>(~unit);
}

// The unit a key was made for.
WISP_HOST_DEVICE inline uint32_t k_winners_key_unit(uint64_t key) { return ~static_cast<uint32_t>(key); }

// Output and gradient of one element: passed through at winners, 0 elsewhere.
WISP_HOST_DEVICE inline float k_winners_pass(float value, uint8_t won) { return won ? value : 0.0f; }

// The duty cycle after one training batch: an exponential moving average, with rate alpha, of the
// fraction of the batch's samples in which the unit won (a fraction in [0, 1], not a count).
// The fma is explicit so that the CPU and the GPU round alike (compilers would each contract the
// multiply-add their own way), keeping the duty cycles, hence the boosts, identical on both.
WISP_HOST_DEVICE inline float k_winners_duty_update(float duty_cycle, int64_t wins, int64_t samples, double alpha) {
  const double fraction = static_cast<double>(wins) / static_cast<double>(samples);
  return static_cast<float>(fma(1.0 - alpha, static_cast<double>(duty_cycle), alpha * fraction));
}

}  // namespace wisp::kernels
