// The loops the sparse linear CPU kernels share (kernels/cpu/sparse_linear_forward.cpp,
// kernels/cpu/sparse_linear_backward.cpp): the split of compressed rows between threads, batch
// tiles and their prefetch distances, and the SpMM that the forward (over CSR) and grad_input (over
// CSC) both run. Internal to the CPU twin; templates and inline functions only, so each kernel
// compiles its loops as one piece.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "wisp/kernels/cpu/kernel_choice.h"
#include "wisp/kernels/cpu/parallel.h"
#include "wisp/kernels/cpu/sparse_simd.h"

namespace wisp::kernels::cpu::sparse_detail {
// Internal linkage, as in kernels/cpu/sparse_simd.h.
namespace {

// A batch tile: up to this many lane groups of kLanes batch rows per output (4 × 16 = 64 rows), as
// many accumulators as stay in registers next to the loads.
constexpr int kMaxTileVectors = 4;  // with_tile_width (kernels/cpu/sparse_simd.h) dispatches 1 to 4
// Output features buffered per thread before writing them batch-major (one 64-byte line of y).
constexpr int kOutputBlock = 16;
// How many nonzeros ahead the batch-1 grad_input prefetches values[csc_to_value[k]]: the
// permutation makes those reads random. In the batch tiles the multiply-adds hide them and a
// prefetch measured no gain (measurements: docs/benchmarks.md, Kernel design log).
constexpr int64_t kPrefetchDistance = 64;

// How many nonzeros ahead the batch tiles prefetch the dense row (one cache line per vector) that a
// nonzero will read: far ahead into L2, near ahead into L1. Those rows are scattered over a dense
// operand of several MB (20000 features x 64 rows = 5 MB: L3, not L2), and the loads of one nonzero
// feed multiply-add chains that the next nonzeros' loads wait behind. Prefetches into L1 alone are
// limited by L1's few outstanding misses (times L3's latency); prefetches into L2 are not, so the
// far ones keep more lines in flight and the near ones then find them in L2 (measurements of the
// distances: docs/benchmarks.md, Kernel design log).
constexpr int kColumnPrefetchToL2 = 32;
constexpr int kColumnPrefetchToL1 = 8;

// The first of `count` rows that thread `part` of `parts` handles, when the work of row r is
// (pointers[r+1] − pointers[r]) + 1: a binary search for the row where the prefix work reaches
// part/parts of the total.
template <class Index>
int64_t balanced_begin(const Index* pointers, int64_t count, int64_t part, int64_t parts) {
  if (part >= parts) return count;
  const int64_t total = static_cast<int64_t>(pointers[count]) + count;
  const int64_t target = total / parts * part + total % parts * part / parts;
  int64_t low = 0, high = count;  // smallest r with pointers[r] + r >= target
  while (low < high) {
    const int64_t mid = low + (high - low) / 2;
    if (static_cast<int64_t>(pointers[mid]) + mid < target) low = mid + 1;
    else high = mid;
  }
  return low;
}

// Runs body(begin, end) over `count` rows split between threads by balanced_begin; on one thread
// when `work` (multiply-adds) is small.
template <class Index, class Body>
void parallel_rows(const Index* pointers, int64_t count, int64_t work, Body body) {
#pragma omp parallel if (work > kParallelThreshold)
  {
    const int64_t parts = omp_get_num_threads(), part = omp_get_thread_num();
    const int64_t begin = balanced_begin(pointers, count, part, parts);
    const int64_t end = balanced_begin(pointers, count, part + 1, parts);
    if (begin < end) body(begin, end);
  }
}

// The key of a measured kernel choice (kernels/cpu/kernel_choice.h) for a layer's shape class: the
// kernel, the layer's sizes, the batch rounded up to a whole tile and the thread count (the best
// variant changes with each).
inline std::string shape_key(const char* kernel, const SparseStructure& structure, int64_t rows) {
  const int64_t tile = kMaxTileVectors * kLanes;
  return std::string(kernel) + " out=" + std::to_string(structure.out_features) +
         " in=" + std::to_string(structure.in_features) + " nnz=" + std::to_string(structure.nnz()) +
         " rows<=" + std::to_string((rows + tile - 1) / tile * tile) +
         " threads=" + std::to_string(omp_get_max_threads());
}

// The k-th nonzero of a compressed matrix: values[k] in CSR order, values[permutation[k]] in CSC.
// Values are float or BFloat16 (read as floats).
template <class Index, bool kPermuted, class Element = float>
struct NonzeroValue {
  const Element* values;
  const Index* permutation;  // CSC position -> value index; unused in CSR order
  int64_t nnz;
  float operator()(Index k) const { return to_float(kPermuted ? values[permutation[k]] : values[k]); }
};

// ---- SpMM: result = init + A · dense, A compressed by rows --------------------------------------------
//
// pointers [n_out + 1] (Index: int32 or int64), indices [nnz] (Feature: uint16 or Index; each < dense
// rows), value(k) the k-th nonzero;
// dense [n_dense, stride] feature-major (the batch runs along stride; float or BFloat16, widened on
// load); init [n_out] or null;
// result [rows, n_out] batch-major: result[r, o] = init[o] + Σ_k value(k) · dense[indices[k], r].
// The forward uses it over CSR (A = W), grad_input over CSC (A = Wᵀ, values through the permutation).

// Rows [begin, end) for the batch tile [tile_begin, tile_begin + tile_rows), tile_rows <=
// Vectors·kLanes (Vectors lane groups). Each output's accumulators (Vectors lane groups as native
// vectors) stay in registers over its nonzeros.
// kPrefetch: whether the dense rows are prefetched ahead (the variant that wins depends on the
// machine's caches; the callers measure both, kernels/cpu/kernel_choice.h).
template <int Vectors, bool kPrefetch, class Index, class Feature, class Value, class Dense>
void spmm_tile(const Index* pointers, const Feature* indices, const Value& value, const Dense* dense, int64_t stride,
               int64_t tile_begin, int64_t tile_rows, const float* init, float* result, int64_t n_out, int64_t begin,
               int64_t end) {
  constexpr int kWidth = Vectors * kLanes;
  constexpr int kNative = Vectors * kNativePerGroup;
  alignas(64) float block[kOutputBlock][kWidth];
  const Dense* tile = dense + tile_begin;
  const Index k_stop = pointers[end];
  for (int64_t block_begin = begin; block_begin < end; block_begin += kOutputBlock) {
    const int64_t block_end = std::min(end, block_begin + kOutputBlock);
    for (int64_t o = block_begin; o < block_end; ++o) {
      NativeVec acc[kNative];
      const NativeVec start = splat(init ? init[o] : 0.0f);
      for (int v = 0; v < kNative; ++v) acc[v] = start;
      const Index k_end = pointers[o + 1];
      for (Index k = pointers[o]; k < k_end; ++k) {
        if constexpr (kPrefetch) {
          if (k + kColumnPrefetchToL2 < k_stop)
            prefetch_column<Vectors, 2>(tile, indices[k + kColumnPrefetchToL2], stride);
          if (k + kColumnPrefetchToL1 < k_stop)
            prefetch_column<Vectors, 3>(tile, indices[k + kColumnPrefetchToL1], stride);
        }
        const float w = value(k);
        const Dense* column = tile + static_cast<int64_t>(indices[k]) * stride;
        for (int v = 0; v < kNative; ++v) acc[v] += w * load_native(column + v * kNativeLanes);
      }
      for (int v = 0; v < kNative; ++v) store_native(&block[o - block_begin][v * kNativeLanes], acc[v]);
    }
    // Back to batch-major: each batch row gets a contiguous run of up to 16 outputs.
    const int64_t width = block_end - block_begin;
    for (int64_t r = 0; r < tile_rows; ++r) {
      float* out = result + (tile_begin + r) * n_out + block_begin;
      for (int64_t o = 0; o < width; ++o) out[o] = block[o][r];
    }
  }
}

// One batch row: result[o] = init[o] + Σ_k value(k) · dense[indices[k]]. Plain pointers and an
// Index-typed counter let the compiler gather with 32-bit indices (a functor or an int64 counter
// does not); the CSC order prefetches its permuted values instead.
#if defined(__AVX512F__)
// 16 feature indices as 32-bit lanes: int32 as they are, uint16 zero-extended.
inline __m512i load_indices(const int32_t* indices) { return _mm512_loadu_si512(indices); }
inline __m512i load_indices(const uint16_t* indices) {
  return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(indices)));
}
// The first `count` (< 16) of them, the other lanes 0 (they are masked off where used).
inline __m512i load_indices_tail(const int32_t* indices, __mmask16 mask, int32_t) {
  return _mm512_maskz_loadu_epi32(mask, indices);
}
inline __m512i load_indices_tail(const uint16_t* indices, __mmask16, int32_t count) {
  alignas(64) int32_t widened[16] = {};
  for (int32_t i = 0; i < count; ++i) widened[i] = indices[i];
  return _mm512_load_si512(widened);
}

// Σ_k values[k] · dense[indices[k]] over [begin, end) with explicit 16-wide gathers; the tail uses
// masked loads (masked-off lanes are not read). Faster than the compiler's vectorisation of the
// loop in spmv_rows (measurements: docs/benchmarks.md, Kernel design log). The same lanes and order
// for both index widths, so 16-bit and 32-bit structures give bit-identical sums.
template <class Feature>
float sparse_dot_avx512(const float* values, const Feature* indices, const float* dense, int32_t begin, int32_t end) {
  __m512 acc = _mm512_setzero_ps();
  int32_t k = begin;
  for (; k + 16 <= end; k += 16) {
    const __m512 gathered = _mm512_i32gather_ps(load_indices(indices + k), dense, 4);
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(values + k), gathered, acc);
  }
  if (k < end) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (end - k)) - 1u);
    const __m512 gathered =
        _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, load_indices_tail(indices + k, mask, end - k), dense, 4);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, values + k), gathered, acc);
  }
  return _mm512_reduce_add_ps(acc);
}
#endif

template <class Index, class Feature>
void spmv_rows(const Index* pointers, const Feature* indices, const NonzeroValue<Index, false>& value,
               const float* dense, const float* init, float* result, int64_t begin, int64_t end) {
  const float* __restrict values = value.values;
  // The compiler vectorises the gather loop below differently for 16-bit indices (more lanes per
  // vector), which changes the order of the sum: 16-bit indices are widened into this buffer first,
  // kWidenedRows rows at a time (one long sequential pass, its result in L1/L2), and the rows then
  // run the very loop wider indices run, so both formats give the same bits.
  constexpr int64_t kWidenedRows = 64;
#if defined(__AVX512F__)
  // The explicit AVX-512 loop reads 16-bit indices itself, in the same lanes.
  constexpr bool kWiden = !std::is_same_v<Feature, Index> && !std::is_same_v<Index, int32_t>;
#else
  constexpr bool kWiden = !std::is_same_v<Feature, Index>;
#endif
  std::vector<Index> widened;
  for (int64_t block = begin; block < end; block += kWidenedRows) {
    const int64_t block_end = std::min(end, block + kWidenedRows);
    const Index* block_indices = nullptr;  // indexed by k in [pointers[block], pointers[block_end])
    if constexpr (!kWiden) {
      if constexpr (std::is_same_v<Feature, Index>) block_indices = indices;
    } else {
      const Index first = pointers[block], count = pointers[block_end] - first;
      widened.resize(static_cast<size_t>(count));
      const Feature* __restrict source = indices + first;
      Index* __restrict target = widened.data();
      for (Index j = 0; j < count; ++j) target[j] = source[j];
      block_indices = widened.data() - first;
    }
    for (int64_t o = block; o < block_end; ++o) {
      float total = 0.0f;
      const Index k_begin = pointers[o], k_end = pointers[o + 1];
#if defined(__AVX512F__)
      if constexpr (std::is_same_v<Index, int32_t>) {  // int32 or uint16 features
        total = sparse_dot_avx512(values, indices, dense, k_begin, k_end);
      } else
#endif
      {
#pragma omp simd reduction(+ : total)
        for (Index k = k_begin; k < k_end; ++k) total += values[k] * dense[block_indices[k]];
      }
      result[o] = init ? total + init[o] : total;
    }
  }
}

// Values in BFloat16 (the reduced-precision mode): each widened in the loop. No bit-identity with
// the float32 loops is kept here (the mode rounds the values anyway), so no widened copy of the
// indices either.
template <class Index, class Feature>
void spmv_rows(const Index* pointers, const Feature* indices, const NonzeroValue<Index, false, BFloat16>& value,
               const float* dense, const float* init, float* result, int64_t begin, int64_t end) {
  const uint16_t* __restrict values = reinterpret_cast<const uint16_t*>(value.values);
  for (int64_t o = begin; o < end; ++o) {
    float total = 0.0f;
    const Index k_end = pointers[o + 1];
#pragma omp simd reduction(+ : total)
    for (Index k = pointers[o]; k < k_end; ++k) total += float_from_bfloat16(values[k]) * dense[indices[k]];
    result[o] = init ? total + init[o] : total;
  }
}

template <class Index, class Feature, class Element>
void spmv_rows(const Index* pointers, const Feature* indices, const NonzeroValue<Index, true, Element>& value,
               const float* dense, const float* init, float* result, int64_t begin, int64_t end) {
  const Element* __restrict values = value.values;
  const Index* __restrict permutation = value.permutation;
  const Index nnz = static_cast<Index>(value.nnz);
  for (int64_t o = begin; o < end; ++o) {
    float total = 0.0f;
    const Index k_end = pointers[o + 1];
    for (Index k = pointers[o]; k < k_end; ++k) {
      if (k + kPrefetchDistance < nnz) __builtin_prefetch(values + permutation[k + kPrefetchDistance]);
      total += to_float(values[permutation[k]]) * dense[indices[k]];
    }
    result[o] = init ? total + init[o] : total;
  }
}

// prefetch: the batch tiles' variant (spmm_tile's kPrefetch); results are the same either way.
template <class Index, class Feature, class Value, class Dense>
void spmm_rows(const Index* pointers, const Feature* indices, const Value& value, const Dense* dense, int64_t stride,
               int64_t rows, const float* init, float* result, int64_t n_out, int64_t begin, int64_t end,
               bool prefetch = true) {
  if constexpr (std::is_same_v<Dense, float>) {  // a BFloat16 operand always has a padded stride
    if (stride == 1) {  // one batch row: a sparse matrix-vector product, bound by memory bandwidth
      spmv_rows(pointers, indices, value, dense, init, result, begin, end);
      return;
    }
  }
  for (int64_t tile_begin = 0; tile_begin < rows; tile_begin += kMaxTileVectors * kLanes) {
    const int64_t tile_rows = std::min<int64_t>(rows - tile_begin, kMaxTileVectors * kLanes);
    const int vectors = static_cast<int>((tile_rows + kLanes - 1) / kLanes);
    const auto run = [&](auto vectors_tag) {
      constexpr int kVectors = decltype(vectors_tag)::value;
      if (prefetch)
        spmm_tile<kVectors, true>(pointers, indices, value, dense, stride, tile_begin, tile_rows, init, result, n_out,
                                  begin, end);
      else
        spmm_tile<kVectors, false>(pointers, indices, value, dense, stride, tile_begin, tile_rows, init, result, n_out,
                                   begin, end);
    };
    with_tile_width(static_cast<int>(vectors), run);
  }
}

// Runs run(prefetch) for a product over batch tiles (stride > 1) with the prefetching variant the
// measurement at first use found faster for this shape class (the same results either way); one
// row has no tiles and runs run(true).
template <class Run>
void run_tile_variants(const char* kernel, const SparseStructure& structure, int64_t rows, int64_t stride, Run run) {
  if (stride == 1) {
    run(true);
    return;
  }
  run_fastest(shape_key(kernel, structure, rows),
              {{"prefetch", [&] { run(true); }}, {"no-prefetch", [&] { run(false); }}});
}

}  // namespace
}  // namespace wisp::kernels::cpu::sparse_detail
