// SIMD helpers of the sparse linear CPU kernels (kernels/cpu/sparse_linear_*.cpp): one vector of
// kLanes floats as a GCC/Clang vector extension, its loads and stores, streaming stores, prefetches
// of feature-major rows and a 16-lane horizontal reduction. Internal to the CPU twin; everything here
// is inline so that the hot loops that call it compile as one piece.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__AVX512F__)
// GCC 12 reports a false "may be used uninitialized" inside its own AVX-512 intrinsics (as in
// kernels/cpu/linear.cpp for Eigen).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include "wisp/kernels/bfloat16_math.h"
#include "wisp/kernels/sparse_linear.h"

namespace wisp::kernels::cpu::sparse_detail {
// Internal linkage (as static inline functions): each kernel file compiles its own inlined copy.
namespace {

constexpr int kLanes = static_cast<int>(kFeatureMajorLanes);
static_assert(kLanes == 16, "reduce_lanes below is written for 16 lanes");

// One SIMD vector of kLanes floats (GCC/Clang vector extension: compiled to the widest instructions
// -march allows: AVX-512 where the CPU has it, two AVX2 halves elsewhere). Loads and stores go
// through memcpy: feature-major rows are only 4-byte aligned when the batch is not a multiple of 16.
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
typedef int32_t LaneMask __attribute__((vector_size(kLanes * sizeof(int32_t))));

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// kLanes bfloat16 widened exactly to floats (a zero-extension and a shift: two instructions).
inline Vec load(const BFloat16* p) {
  typedef uint16_t Halves __attribute__((vector_size(kLanes * sizeof(uint16_t))));
  typedef uint32_t Words __attribute__((vector_size(kLanes * sizeof(uint32_t))));
  Halves halves;
  std::memcpy(&halves, p, sizeof halves);
  const Words words = __builtin_convertvector(halves, Words) << 16;
  Vec v;
  std::memcpy(&v, &words, sizeof v);
  return v;
}
inline void store(float* p, const Vec& v) { std::memcpy(p, &v, sizeof v); }
inline Vec splat(float value) { return Vec{} + value; }

// A store that bypasses the caches (p 64-byte aligned), and the fence that each storing thread runs
// before others read what it stored (an OpenMP barrier alone does not order streaming stores).
inline void stream_store(float* p, const Vec& v) {
#if defined(__AVX512F__)
  _mm512_stream_ps(p, reinterpret_cast<__m512>(v));
#else
  store(p, v);
#endif
}
inline void store_fence() {
#if defined(__AVX512F__)
  _mm_sfence();
#endif
}

// Prefetches the Vectors cache lines of dense row `index` of a batch tile (feature-major, the batch
// tile starting at `tile`), into L1 (Locality 3) or L2 (Locality 2).
// Elements are float or BFloat16 (whose kLanes elements per vector are half a line: one prefetch
// per line).
template <int Vectors, int Locality, class Index, class Element>
inline void prefetch_column(const Element* tile, Index index, int64_t stride) {
  const Element* column = tile + static_cast<int64_t>(index) * stride;
  constexpr int kVectorsPerLine = 64 / (kLanes * static_cast<int>(sizeof(Element)));
  for (int v = 0; v < Vectors; v += kVectorsPerLine) __builtin_prefetch(column + v * kLanes, 0, Locality);
}

// Lanes 0-7 hold the sums of adjacent lane pairs of a, lanes 8-15 those of b.
inline Vec pair_sums(const Vec& a, const Vec& b) {
#if defined(__clang__)
  return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
         __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
#else
  const LaneMask even = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
  const LaneMask odd = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
  return __builtin_shuffle(a, b, even) + __builtin_shuffle(a, b, odd);
#endif
}

// Lane j of the result is the sum of the kLanes lanes of v[j]: 15 pair_sums for 16 horizontal
// sums, instead of ~8 shuffles and adds for each.
inline Vec reduce_lanes(const Vec* v) {
  Vec halves[8], quarters[4], eighths[2];
  for (int i = 0; i < 8; ++i) halves[i] = pair_sums(v[2 * i], v[2 * i + 1]);
  for (int i = 0; i < 4; ++i) quarters[i] = pair_sums(halves[2 * i], halves[2 * i + 1]);
  for (int i = 0; i < 2; ++i) eighths[i] = pair_sums(quarters[2 * i], quarters[2 * i + 1]);
  return pair_sums(eighths[0], eighths[1]);
}

}  // namespace
}  // namespace wisp::kernels::cpu::sparse_detail
