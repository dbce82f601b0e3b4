// bfloat16 conversions shared by the CPU and CUDA twins. A bfloat16 is the upper half of a float32
// (sign, 8 exponent bits, 7 mantissa bits): widening is exact, narrowing rounds to nearest, ties to
// even, as PyTorch's .to(torch.bfloat16) does, so wisp's copies equal PyTorch's bit for bit.
#pragma once

#include <cstdint>
#include <cstring>

#include "wisp/core/macros.h"

namespace wisp::kernels {

WISP_HOST_DEVICE inline uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

WISP_HOST_DEVICE inline float float_from_bits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// The bfloat16 nearest to `value` (ties to even); NaN stays a (quiet) NaN of the same sign.
WISP_HOST_DEVICE inline uint16_t bfloat16_from_float(float value) {
  const uint32_t bits = float_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  const uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

// The float32 a bfloat16 stands for (exact).
WISP_HOST_DEVICE inline float float_from_bfloat16(uint16_t value) {
  return float_from_bits(static_cast<uint32_t>(value) << 16);
}

// An element of a BFloat16 tensor as kernels read it: a distinct type, so that templates over the
// element type (float or BFloat16) never mistake it for a 16-bit index.
struct BFloat16 {
  uint16_t bits;
};
static_assert(sizeof(BFloat16) == 2, "BFloat16 tensors hold 2-byte elements");

// Elements read as float: the identity for float, exact widening for BFloat16.
WISP_HOST_DEVICE inline float to_float(float value) { return value; }
WISP_HOST_DEVICE inline float to_float(BFloat16 value) { return float_from_bfloat16(value.bits); }

}  // namespace wisp::kernels
