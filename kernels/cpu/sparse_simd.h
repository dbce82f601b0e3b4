// SIMD helpers of the sparse linear CPU kernels (kernels/cpu/sparse_linear_*.cpp): the machine's
// native vector of floats (a lane group of kLanes batch rows, the feature-major padding, is one or
// more of them), its loads and stores, streaming stores, prefetches of feature-major rows and a
// horizontal reduction of 16-lane groups.
// Internal to the CPU twin; everything here is inline so that the hot loops that call it compile as
// one piece.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

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

// One SIMD vector at the machine's own width (AVX-512: 16 floats, else 8), as a GCC/Clang vector
// extension; a lane group of kLanes batch rows is kNativePerGroup of them. A kLanes-wide vector type
// would compute the same per lane, but on AVX2 GCC 12 lowers it through stack copies of its halves.
// Loads and stores go through memcpy: feature-major rows are only 4-byte aligned when the batch is
// not a multiple of 16.
#if defined(__AVX512F__)
constexpr int kNativeLanes = 16;
#else
constexpr int kNativeLanes = 8;
#endif
constexpr int kNativePerGroup = kLanes / kNativeLanes;
static_assert(kLanes % kNativeLanes == 0, "a lane group is a whole number of native vectors");
typedef float NativeVec __attribute__((vector_size(kNativeLanes * sizeof(float))));

inline NativeVec load_native(const float* p) {
  NativeVec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// kNativeLanes bfloat16 widened exactly to floats (a zero-extension and a shift: two instructions).
inline NativeVec load_native(const BFloat16* p) {
  typedef uint16_t Halves __attribute__((vector_size(kNativeLanes * sizeof(uint16_t))));
  typedef uint32_t Words __attribute__((vector_size(kNativeLanes * sizeof(uint32_t))));
  Halves halves;
  std::memcpy(&halves, p, sizeof halves);
  const Words words = __builtin_convertvector(halves, Words) << 16;
  NativeVec v;
  std::memcpy(&v, &words, sizeof v);
  return v;
}
inline void store_native(float* p, const NativeVec& v) { std::memcpy(p, &v, sizeof v); }
// A store that bypasses the caches (p 64-byte aligned), and the fence that each storing thread runs
// before others read what it stored (an OpenMP barrier alone does not order streaming stores).
inline void stream_store(float* p, const NativeVec& v) {
#if defined(__AVX512F__)
  _mm512_stream_ps(p, reinterpret_cast<__m512>(v));
#else
  store_native(p, v);
#endif
}
inline void store_fence() {
#if defined(__AVX512F__)
  _mm_sfence();
#endif
}

// value + 0 in every lane: a −0 becomes +0 (kernels/cpu/sparse_linear_dense.cpp relies on it).
inline NativeVec splat(float value) { return NativeVec{} + value; }

// Prefetches the Vectors cache lines of dense row `index` of a batch tile (feature-major, the batch
// tile starting at `tile`, Vectors lane groups), into L1 (Locality 3) or L2 (Locality 2).
// Elements are float or BFloat16 (whose kLanes elements per group are half a line: one prefetch
// per line).
template <int Vectors, int Locality, class Index, class Element>
inline void prefetch_column(const Element* tile, Index index, int64_t stride) {
  const Element* column = tile + static_cast<int64_t>(index) * stride;
  constexpr int kVectorsPerLine = 64 / (kLanes * static_cast<int>(sizeof(Element)));
  for (int v = 0; v < Vectors; v += kVectorsPerLine) __builtin_prefetch(column + v * kLanes, 0, Locality);
}

// The first half of the result holds the sums of adjacent lane pairs of a, the second half those of
// b: over the lanes of a then b read as one sequence, each adjacent pair becomes one lane, in order.
inline NativeVec pair_sums(const NativeVec& a, const NativeVec& b) {
#if defined(__AVX512F__)
#if defined(__clang__)
  return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
         __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
#else
  typedef int32_t LaneMask __attribute__((vector_size(kNativeLanes * sizeof(int32_t))));
  const LaneMask even = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
  const LaneMask odd = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
  return __builtin_shuffle(a, b, even) + __builtin_shuffle(a, b, odd);
#endif
#else
#if defined(__clang__)
  return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14) +
         __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
#else
  typedef int32_t LaneMask __attribute__((vector_size(kNativeLanes * sizeof(int32_t))));
  const LaneMask even = {0, 2, 4, 6, 8, 10, 12, 14};
  const LaneMask odd = {1, 3, 5, 7, 9, 11, 13, 15};
  return __builtin_shuffle(a, b, even) + __builtin_shuffle(a, b, odd);
#endif
#endif
}

// groups: kLanes lane groups, each kNativePerGroup native vectors. Lane j of sums (kNativePerGroup
// native vectors) is the sum of the kLanes lanes of group j, always by the same balanced tree
// ((l0 + l1) + (l2 + l3)) + ... whatever the native width: each level of pair_sums halves the whole
// sequence of lanes by adding adjacent pairs, in order. 15 16-lane pair_sums (30 of 8 lanes) for 16
// horizontal sums, instead of ~8 shuffles and adds for each.
inline void reduce_lanes(const NativeVec* groups, NativeVec* sums) {
  constexpr int kCount = kLanes * kNativePerGroup;
  static_assert(kCount / 8 == 2 * kNativePerGroup, "four levels of pair_sums reduce 16 lanes");
  NativeVec halves[kCount / 2], quarters[kCount / 4], eighths[kCount / 8];
  for (int i = 0; i < kCount / 2; ++i) halves[i] = pair_sums(groups[2 * i], groups[2 * i + 1]);
  for (int i = 0; i < kCount / 4; ++i) quarters[i] = pair_sums(halves[2 * i], halves[2 * i + 1]);
  for (int i = 0; i < kCount / 8; ++i) eighths[i] = pair_sums(quarters[2 * i], quarters[2 * i + 1]);
  for (int i = 0; i < kNativePerGroup; ++i) sums[i] = pair_sums(eighths[2 * i], eighths[2 * i + 1]);
}

// Calls run(std::integral_constant<int, W>{}) with W = width clamped to [1, 4]: the tile loops are
// templates on their width (lane groups of a batch tile, or the rows of a small batch), so that
// their accumulators stay in registers, and 4 is the widest any of them takes.
template <class Run>
void with_tile_width(int width, Run&& run) {
  switch (width) {
    case 1:
      run(std::integral_constant<int, 1>{});
      break;
    case 2:
      run(std::integral_constant<int, 2>{});
      break;
    case 3:
      run(std::integral_constant<int, 3>{});
      break;
    default:
      run(std::integral_constant<int, 4>{});
      break;
  }
}

}  // namespace
}  // namespace wisp::kernels::cpu::sparse_detail
