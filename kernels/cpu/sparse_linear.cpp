// CPU kernels of the sparse linear layer (OpenMP threads + GCC vector extensions).
//
// Layout decisions, each measured on the 20000 × 20000 layer at 99% sparsity (nnz = 4,000,000;
// random connectivity), 2-core AMD EPYC (Zen 4, AVX-512, 48 KiB L1 / 1 MiB L2 per core),
// -O3 -march=native. Times in ms, ONE thread unless stated (the machine is shared: one-thread
// numbers were the reproducible ones; best of 30-40 runs), from kernel-level benchmarks:
//
// * Feature-major activations. x [rows, in] is copied to [in, stride] (stride = rows padded to 16
//   lanes) so that each nonzero (o, i) adds w · x[:, i] — one contiguous run of the batch — into
//   output o's accumulators, which stay in registers for a batch tile of up to 64 rows (4 × 16
//   lanes). Batch 64 forward: batch-major (64 sparse matrix-vector products) 378 ms, the same
//   blocked by 256 output rows 386 ms; feature-major 14.9 ms. The transposition costs 0.5 ms.
// * Tiles of 4 vectors (64 rows) rather than 2 (32): forward 15.0 vs 16-20, SDDMM 19 vs 26-33.
//   16-lane (zmm) vs 8-lane (ymm) vectors measured within noise; 16 lets the SDDMM reduce 16 dot
//   products with one 15-step shuffle tree (reduce_lanes) instead of a horizontal sum per nonzero:
//   SDDMM at batch 64 28.0 -> 18.4. Blocking the input features so that x's tile fits L2 (1024 to
//   8192 features per block, partial sums kept in memory) was slower: 24-29 vs 21 (prototype).
// * Int32 indices whenever they fit (Int64 for larger layers). 1 thread / 2 threads, Int32 vs
//   Int64: batch 1 forward 2.3 vs 4.4 / 0.84 vs 2.0, batch 1 SDDMM 2.3 vs 3.7 / 0.86 vs 1.8,
//   batch 64 forward 12.8 vs 13.6 / 6.5 vs 7.8, batch 64 grad_input 20.1 vs 21.3 / 10.2 vs 13.6.
//   The batch-1 loops count with the Index type: with an int64 counter GCC does not gather with
//   32-bit indices (5.0 vs 2.9), and explicit AVX-512 gathers beat GCC's vectorisation (2 threads
//   0.76 vs 1.06, see sparse_dot_avx512).
// * Threads take contiguous ranges of output rows (of input columns for grad_input) balanced by
//   nnz + rows (a binary search on the pointers), so skewed connectivity (small-world, user) splits
//   evenly, each output is computed by one thread in a fixed order — results are identical for any
//   thread count — and SDDMM and grad_input need no atomics or per-thread copies.
// * grad_input runs over the cached CSC order; its values arrive through the permutation, i.e. at
//   random. At batch 1 prefetching them 64 nonzeros ahead halves it (18 -> 9.5; 6.7 in the table
//   below); in batch tiles a prefetch (of values or of dense rows) measured no gain.
// * Outputs are written batch-major from a per-thread block of 16 output features, one 64-byte run
//   per batch row, instead of a second transposition pass.
//
// Result, same machine, quiet, kernels only (Int32; 1 thread / 2 threads):
//   batch 1:  forward 2.3 / 0.84 (the streaming-copy bound is ~0.47), grad_input 6.7 / 2.5,
//             SDDMM 2.3 / 0.86
//   batch 64: forward 12.8 / 6.5, grad_input 20.1 / 10.2, SDDMM 16.8 / 8.4, transposition 0.46 / 0.27
// On another host of the same kind (third session), where these kernels ran ~1.8x slower, the
// two-level column prefetch and the streamed transposition (both below) brought the whole layer at
// batch 64 from 16 to 9.5-10.8 ms forward and from 32 to 20-24 ms forward+backward (2 threads;
// docs/benchmarks.md).
// bench/sparse_bench and bench/sparse_bench.py measure the whole layer against PyTorch.
#include "wisp/kernels/cpu/sparse_linear.h"

#include <omp.h>

#if defined(__AVX512F__)
// GCC 12 reports a false "may be used uninitialized" inside its own AVX-512 intrinsics (as in
// kernels/cpu/linear.cpp for Eigen).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/parallel.h"

namespace wisp::kernels::cpu {
namespace {

constexpr int kLanes = static_cast<int>(kFeatureMajorLanes);
static_assert(kLanes == 16, "reduce_lanes below is written for 16 lanes");
// A batch tile: up to this many vectors of kLanes batch rows per output (4 × 16 = 64 rows), as many
// accumulators as stay in registers next to the loads.
constexpr int kMaxTileVectors = 4;  // the tile dispatch below handles 1 to 4
// Output features buffered per thread before writing them batch-major (one 64-byte line of y).
constexpr int kOutputBlock = 16;
// How many nonzeros ahead the batch-1 grad_input prefetches values[csc_to_value[k]]: the
// permutation makes those reads random (measured: 18 ms without, 9.5 ms at 64 ahead, one thread).
// In the batch tiles the multiply-adds hide them and a prefetch measured no gain.
constexpr int64_t kPrefetchDistance = 64;

// How many nonzeros ahead the batch tiles prefetch the dense row (one cache line per vector) that a
// nonzero will read: far ahead into L2, near ahead into L1. Those rows are scattered over a dense
// operand of several MB (20000 features x 64 rows = 5 MB: L3, not L2), and the loads of one nonzero
// feed multiply-add chains that the next nonzeros' loads wait behind. Prefetches into L1 alone are
// limited by L1's few outstanding misses (times L3's latency); prefetches into L2 are not, so the
// far ones keep more lines in flight and the near ones then find them in L2. Measured (batch 64,
// 20000^2 at 99%):
// - whole layer through sparse_bench, same session, L1 only at distance 0 / 6 / 12 / 24: 2 threads
//   forward 15.4-15.8 / 12.8-14.7 / 13.8-15.6 / 13.2-13.9 ms, forward+backward (SDDMM) 30.7-32.2 /
//   26.2-28.0 / 26.1-28.7 / 27.3-28.8; 1 thread forward 29.7-31.6 / 24.4-26.6 / 26.7-28.9 / 25.6-27.8;
// - a forward-only prototype, medians of 40 alternated runs, 2 threads / 1 thread: none 13.6 / -,
//   L1 at 12: 11.0 / 21.1, L2 at 12 / 24 / 48: 11.5 / 10.2 / 9.9 (2 threads), L2 at 32-128 plus L1
//   at 8-16: 8.9-9.3 / 15.9-17.0;
// - the library's kernels, medians of 30 alternated runs, 2 threads: forward L1 at 12 12.0-12.3,
//   L2 at 64 + L1 at 12 8.7; SDDMM (with g's transposition) L1 at 12: 9.9-10.6, L2 + L1 at 32 + 8:
//   9.0, 64 + 12: 9.3, 128 + 16: 9.4-9.6, 128 + 32: 10.6-11.1.
constexpr int kColumnPrefetchToL2 = 32;
constexpr int kColumnPrefetchToL1 = 8;

// to_feature_major: features per step (kTransposeBlock contiguous reads per batch row), and when its
// output goes around the caches. A transposed operand of several MB written with ordinary stores
// leaves its lines modified in the writing core's L2, and the product that follows gathers them
// from both cores; written with streaming stores they come back clean from memory. Measured
// (2 threads, batch 64, transposition + forward, median of 40-200 alternated runs, 90-99% sparse
// square layers): 20000 features (5 MB) 13.8 -> 12.4 ms, 8000: 15.4 -> 14.8, 4000: 2.92 -> 2.75,
// 2000 (512 KB): 0.78 -> 0.73; but 1000: 0.18 -> 0.19 and 784: 0.09 -> 0.11, where the operand
// stays in L2. Hence streaming from 1 MB. Batches above kMaxBufferedStride rows keep the plain loop.
constexpr int kTransposeBlock = 16;
constexpr int64_t kStreamingTransposeBytes = int64_t(1) << 20;
constexpr int64_t kMaxBufferedStride = 256;

// One SIMD vector of kLanes floats (GCC/Clang vector extension: compiled to the widest instructions
// -march allows, AVX-512 here, two AVX2 halves elsewhere). Loads and stores go through memcpy:
// feature-major rows are only 4-byte aligned when the batch is not a multiple of 16.
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
typedef int32_t LaneMask __attribute__((vector_size(kLanes * sizeof(int32_t))));

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
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
template <int Vectors, int Locality, class Index>
inline void prefetch_column(const float* tile, Index index, int64_t stride) {
  const float* column = tile + static_cast<int64_t>(index) * stride;
  for (int v = 0; v < Vectors; ++v) __builtin_prefetch(column + v * kLanes, 0, Locality);
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

// The k-th nonzero of a compressed matrix: values[k] in CSR order, values[permutation[k]] in CSC.
template <class Index, bool kPermuted>
struct NonzeroValue {
  const float* values;
  const Index* permutation;  // CSC position -> value index; unused in CSR order
  int64_t nnz;
  float operator()(Index k) const { return kPermuted ? values[permutation[k]] : values[k]; }
};

// ---- SpMM: result = init + A · dense, A compressed by rows --------------------------------------------
//
// pointers [n_out + 1], indices [nnz] (each < dense rows), value(k) the k-th nonzero;
// dense [n_dense, stride] feature-major (the batch runs along stride); init [n_out] or null;
// result [rows, n_out] batch-major: result[r, o] = init[o] + Σ_k value(k) · dense[indices[k], r].
// The forward uses it over CSR (A = W), grad_input over CSC (A = Wᵀ, values through the permutation).

// Rows [begin, end) for the batch tile [tile_begin, tile_begin + tile_rows), tile_rows <=
// Vectors·kLanes. Each output's Vectors accumulators stay in registers over its nonzeros.
template <int Vectors, class Index, class Value>
void spmm_tile(const Index* pointers, const Index* indices, const Value& value, const float* dense, int64_t stride,
               int64_t tile_begin, int64_t tile_rows, const float* init, float* result, int64_t n_out, int64_t begin,
               int64_t end) {
  constexpr int kWidth = Vectors * kLanes;
  alignas(64) float block[kOutputBlock][kWidth];
  const float* tile = dense + tile_begin;
  const Index k_stop = pointers[end];
  for (int64_t block_begin = begin; block_begin < end; block_begin += kOutputBlock) {
    const int64_t block_end = std::min(end, block_begin + kOutputBlock);
    for (int64_t o = block_begin; o < block_end; ++o) {
      Vec acc[Vectors];
      const Vec start = splat(init ? init[o] : 0.0f);
      for (int v = 0; v < Vectors; ++v) acc[v] = start;
      const Index k_end = pointers[o + 1];
      for (Index k = pointers[o]; k < k_end; ++k) {
        if (k + kColumnPrefetchToL2 < k_stop)
          prefetch_column<Vectors, 2>(tile, indices[k + kColumnPrefetchToL2], stride);
        if (k + kColumnPrefetchToL1 < k_stop)
          prefetch_column<Vectors, 3>(tile, indices[k + kColumnPrefetchToL1], stride);
        const float w = value(k);
        const float* column = tile + static_cast<int64_t>(indices[k]) * stride;
        for (int v = 0; v < Vectors; ++v) acc[v] += w * load(column + v * kLanes);
      }
      for (int v = 0; v < Vectors; ++v) store(&block[o - block_begin][v * kLanes], acc[v]);
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
// measured 1.7-2x slower); the CSC order prefetches its permuted values instead.
#if defined(__AVX512F__)
// Σ_k values[k] · dense[indices[k]] over [begin, end) with explicit 16-wide gathers; the tail uses
// masked loads (masked-off lanes are not read). Batch-1 forward, 2 threads: 0.76 ms against 1.06
// for the compiler's vectorisation of the loop in spmv_rows.
inline float sparse_dot_avx512(const float* values, const int32_t* indices, const float* dense, int32_t begin,
                               int32_t end) {
  __m512 acc = _mm512_setzero_ps();
  int32_t k = begin;
  for (; k + 16 <= end; k += 16) {
    const __m512 gathered = _mm512_i32gather_ps(_mm512_loadu_si512(indices + k), dense, 4);
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(values + k), gathered, acc);
  }
  if (k < end) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (end - k)) - 1u);
    const __m512 gathered =
        _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, _mm512_maskz_loadu_epi32(mask, indices + k), dense, 4);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, values + k), gathered, acc);
  }
  return _mm512_reduce_add_ps(acc);
}
#endif

template <class Index>
void spmv_rows(const Index* pointers, const Index* indices, const NonzeroValue<Index, false>& value, const float* dense,
               const float* init, float* result, int64_t begin, int64_t end) {
  const float* __restrict values = value.values;
  for (int64_t o = begin; o < end; ++o) {
    float total = 0.0f;
    const Index k_end = pointers[o + 1];
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<Index, int32_t>) {
      total = sparse_dot_avx512(values, indices, dense, pointers[o], k_end);
    } else
#endif
    {
#pragma omp simd reduction(+ : total)
      for (Index k = pointers[o]; k < k_end; ++k) total += values[k] * dense[indices[k]];
    }
    result[o] = init ? total + init[o] : total;
  }
}

template <class Index>
void spmv_rows(const Index* pointers, const Index* indices, const NonzeroValue<Index, true>& value, const float* dense,
               const float* init, float* result, int64_t begin, int64_t end) {
  const float* __restrict values = value.values;
  const Index* __restrict permutation = value.permutation;
  const Index nnz = static_cast<Index>(value.nnz);
  for (int64_t o = begin; o < end; ++o) {
    float total = 0.0f;
    const Index k_end = pointers[o + 1];
    for (Index k = pointers[o]; k < k_end; ++k) {
      if (k + kPrefetchDistance < nnz) __builtin_prefetch(values + permutation[k + kPrefetchDistance]);
      total += values[permutation[k]] * dense[indices[k]];
    }
    result[o] = init ? total + init[o] : total;
  }
}

template <class Index, class Value>
void spmm_rows(const Index* pointers, const Index* indices, const Value& value, const float* dense, int64_t stride,
               int64_t rows, const float* init, float* result, int64_t n_out, int64_t begin, int64_t end) {
  if (stride == 1) {  // one batch row: a sparse matrix-vector product, bound by memory bandwidth
    spmv_rows(pointers, indices, value, dense, init, result, begin, end);
    return;
  }
  for (int64_t tile_begin = 0; tile_begin < rows; tile_begin += kMaxTileVectors * kLanes) {
    const int64_t tile_rows = std::min<int64_t>(rows - tile_begin, kMaxTileVectors * kLanes);
    const int vectors = static_cast<int>((tile_rows + kLanes - 1) / kLanes);
    const auto run = [&](auto vectors_tag) {
      spmm_tile<decltype(vectors_tag)::value>(pointers, indices, value, dense, stride, tile_begin, tile_rows, init,
                                              result, n_out, begin, end);
    };
    switch (vectors) {
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
        run(std::integral_constant<int, kMaxTileVectors>{});
        break;
    }
  }
}

// ---- SDDMM: grad_values[k] = Σ_r g[row_k, r] · x[col_k, r], both feature-major ------------------------

// Nonzeros of rows [begin, end), batch tile [tile_begin, tile_begin + Vectors·kLanes). Nonzeros go
// in groups of kLanes (across row boundaries): one product vector each, then one reduce_lanes
// gives the group's kLanes dot products as a vector, stored contiguously.
template <int Vectors, class Index>
void sddmm_tile(const Index* row_pointers, const Index* column_indices, const float* g, const float* x, int64_t stride,
                int64_t tile_begin, bool accumulate, float* grad_values, int64_t begin, int64_t end) {
  const int64_t k_begin = row_pointers[begin], k_end = row_pointers[end];
  int64_t row = begin;  // the row of the current nonzero
  Vec g_row[Vectors];
  const auto load_row = [&] {
    for (int v = 0; v < Vectors; ++v) g_row[v] = load(g + row * stride + tile_begin + v * kLanes);
  };
  load_row();
  for (int64_t group = k_begin; group < k_end; group += kLanes) {
    const int count = static_cast<int>(std::min<int64_t>(kLanes, k_end - group));
    Vec products[kLanes];
    for (int j = 0; j < count; ++j) {
      const int64_t k = group + j;
      if (k >= static_cast<int64_t>(row_pointers[row + 1])) {
        do ++row;
        while (k >= static_cast<int64_t>(row_pointers[row + 1]));
        load_row();
      }
      if (k + kColumnPrefetchToL2 < k_end)
        prefetch_column<Vectors, 2>(x + tile_begin, column_indices[k + kColumnPrefetchToL2], stride);
      if (k + kColumnPrefetchToL1 < k_end)
        prefetch_column<Vectors, 3>(x + tile_begin, column_indices[k + kColumnPrefetchToL1], stride);
      const float* column = x + static_cast<int64_t>(column_indices[k]) * stride + tile_begin;
      Vec p = g_row[0] * load(column);
      for (int v = 1; v < Vectors; ++v) p += g_row[v] * load(column + v * kLanes);
      products[j] = p;
    }
    for (int j = count; j < kLanes; ++j) products[j] = Vec{};
    Vec sums = reduce_lanes(products);
    float* out = grad_values + group;
    if (count == kLanes) {
      store(out, accumulate ? load(out) + sums : sums);
    } else {
      for (int j = 0; j < count; ++j) out[j] = accumulate ? out[j] + sums[j] : sums[j];
    }
  }
}

template <class Index>
void sddmm_rows(const Index* row_pointers, const Index* column_indices, const float* g, const float* x, int64_t stride,
                int64_t rows, float* grad_values, int64_t begin, int64_t end) {
  if (stride == 1) {  // one batch row: the outer product g xᵀ sampled at the nonzeros
    for (int64_t o = begin; o < end; ++o) {
      const float g_o = g[o];
      const Index k_end = row_pointers[o + 1];
#pragma omp simd
      for (Index k = row_pointers[o]; k < k_end; ++k) grad_values[k] = g_o * x[column_indices[k]];
    }
    return;
  }
  for (int64_t tile_begin = 0; tile_begin < rows; tile_begin += kMaxTileVectors * kLanes) {
    const int64_t tile_rows = std::min<int64_t>(rows - tile_begin, kMaxTileVectors * kLanes);
    const int vectors = static_cast<int>((tile_rows + kLanes - 1) / kLanes);
    const bool accumulate = tile_begin > 0;
    const auto run = [&](auto vectors_tag) {
      sddmm_tile<decltype(vectors_tag)::value>(row_pointers, column_indices, g, x, stride, tile_begin, accumulate,
                                               grad_values, begin, end);
    };
    switch (vectors) {
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
        run(std::integral_constant<int, kMaxTileVectors>{});
        break;
    }
  }
}

}  // namespace

// indices: Int64 [2, nnz] sorted by (row, col). CSR from the sorted rows; CSC by a counting sort on
// the column, which keeps rows increasing within each column.
void build_sparse_structure(const Tensor& indices, const SparseStructure& structure) {
  const int64_t nnz = indices.size(1), out = structure.out_features, in = structure.in_features;
  const int64_t* rows = pointer<int64_t>(indices);
  const int64_t* cols = rows + nnz;
  visit_index(structure.index_dtype(), [&](auto tag) {
    using Index = typename decltype(tag)::type;
    Index* row_pointers = mutable_pointer<Index>(structure.row_pointers);
    Index* column_indices = mutable_pointer<Index>(structure.column_indices);
    Index* column_pointers = mutable_pointer<Index>(structure.column_pointers);
    Index* row_indices = mutable_pointer<Index>(structure.row_indices);
    Index* csc_to_value = mutable_pointer<Index>(structure.csc_to_value);
    std::fill(row_pointers, row_pointers + out + 1, Index(0));
    std::fill(column_pointers, column_pointers + in + 1, Index(0));
    for (int64_t k = 0; k < nnz; ++k) {
      ++row_pointers[rows[k] + 1];
      ++column_pointers[cols[k] + 1];
      column_indices[k] = static_cast<Index>(cols[k]);
    }
    for (int64_t r = 0; r < out; ++r) row_pointers[r + 1] += row_pointers[r];
    for (int64_t c = 0; c < in; ++c) column_pointers[c + 1] += column_pointers[c];
    std::vector<Index> next(column_pointers, column_pointers + in);  // next free CSC slot per column
    for (int64_t k = 0; k < nnz; ++k) {
      const Index position = next[static_cast<size_t>(cols[k])]++;
      row_indices[position] = static_cast<Index>(rows[k]);
      csc_to_value[position] = static_cast<Index>(k);
    }
  });
}

// batch_major: [rows, features]; feature_major.data: [features, stride], stride >= rows.
void to_feature_major(const Tensor& batch_major, const FeatureMajor& feature_major) {
  const int64_t rows = feature_major.rows, features = feature_major.features(), stride = feature_major.stride();
  const float* x = pointer<float>(batch_major);
  float* xt = mutable_pointer<float>(feature_major.data);
  const int64_t blocks = (features + kTransposeBlock - 1) / kTransposeBlock;
  const bool streaming = feature_major.data.nbytes() >= kStreamingTransposeBytes && stride <= kMaxBufferedStride &&
                         reinterpret_cast<uintptr_t>(xt) % 64 == 0;
  // Features [f_begin, f_begin + width) into destination [width, stride]: xt's own rows for them, or
  // a buffer of the same layout that is then streamed there.
  const auto transpose_block = [&](int64_t f_begin, int64_t width, float* destination) {
    if (width == kTransposeBlock) {  // a constant trip count, which the compiler unrolls
      for (int64_t r = 0; r < rows; ++r) {
        const float* source = x + r * features + f_begin;
        for (int f = 0; f < kTransposeBlock; ++f) destination[f * stride + r] = source[f];
      }
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        const float* source = x + r * features + f_begin;
        for (int64_t f = 0; f < width; ++f) destination[f * stride + r] = source[f];
      }
    }
    if (rows < stride)
      for (int64_t f = 0; f < width; ++f)
        std::fill(destination + f * stride + rows, destination + (f + 1) * stride, 0.0f);
  };
#pragma omp parallel if (rows * features > kParallelThreshold)
  {
#pragma omp for schedule(static) nowait
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t f_begin = block * kTransposeBlock, width = std::min(features - f_begin, int64_t(kTransposeBlock));
      float* destination = xt + f_begin * stride;  // 64-byte aligned when streaming: stride is a multiple of 16
      if (!streaming) {
        transpose_block(f_begin, width, destination);
        continue;
      }
      alignas(64) float buffer[kTransposeBlock * kMaxBufferedStride];
      transpose_block(f_begin, width, buffer);
      for (int64_t i = 0; i < width * stride; i += kLanes) stream_store(destination + i, load(buffer + i));
    }
    if (streaming) store_fence();  // each thread its own streaming stores, before the region's barrier
  }
}

// input.data: [in, stride]; values: [nnz]; bias: [out] or undefined; output: [rows, out].
void sparse_linear_forward(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                           const Tensor& bias, const Tensor& output) {
  const int64_t rows = input.rows, out = structure.out_features, stride = input.stride();
  const float* w = pointer<float>(values);
  const float* init = bias.defined() ? pointer<float>(bias) : nullptr;
  const float* x = pointer<float>(input.data);
  float* y = mutable_pointer<float>(output);
  visit_index(structure.index_dtype(), [&](auto tag) {
    using Index = typename decltype(tag)::type;
    const Index* row_pointers = pointer<Index>(structure.row_pointers);
    const Index* column_indices = pointer<Index>(structure.column_indices);
    const NonzeroValue<Index, false> value{w, nullptr, structure.nnz()};
    parallel_rows(row_pointers, out, structure.nnz() * stride, [&](int64_t begin, int64_t end) {
      spmm_rows(row_pointers, column_indices, value, x, stride, rows, init, y, out, begin, end);
    });
  });
}

// grad_output.data: [out, stride]; values: [nnz]; grad_input: [rows, in]. With a batch the values
// are first gathered into CSC order (one parallel pass whose random reads are independent of each
// other, so they overlap), and the product then streams them like the forward; reading them through
// the permutation inside the product's dependent multiply-add chains measured slower (20000 x 20000
// at 99%, batch 64, 2 threads: 35 ms against ~20 ms). One batch row keeps the permuted reads with a
// prefetch: the gather would cost as much as the product itself.
void sparse_linear_backward_input(const FeatureMajor& grad_output, const Tensor& values,
                                  const SparseStructure& structure, const Tensor& grad_input) {
  const int64_t rows = grad_output.rows, in = structure.in_features, stride = grad_output.stride();
  const int64_t nnz = structure.nnz();
  const float* w = pointer<float>(values);
  const float* g = pointer<float>(grad_output.data);
  float* gx = mutable_pointer<float>(grad_input);
  visit_index(structure.index_dtype(), [&](auto tag) {
    using Index = typename decltype(tag)::type;
    const Index* column_pointers = pointer<Index>(structure.column_pointers);
    const Index* row_indices = pointer<Index>(structure.row_indices);
    const Index* csc_to_value = pointer<Index>(structure.csc_to_value);
    if (stride == 1) {
      const NonzeroValue<Index, true> value{w, csc_to_value, nnz};
      parallel_rows(column_pointers, in, nnz * stride, [&](int64_t begin, int64_t end) {
        spmm_rows(column_pointers, row_indices, value, g, stride, rows, nullptr, gx, in, begin, end);
      });
      return;
    }
    const Tensor gathered = empty({nnz}, TensorOptions(DType::Float32).device(values.device()));
    float* csc_values = mutable_pointer<float>(gathered);
#pragma omp parallel for schedule(static) if (nnz > kParallelThreshold)
    for (int64_t k = 0; k < nnz; ++k) csc_values[k] = w[csc_to_value[k]];
    const NonzeroValue<Index, false> value{csc_values, nullptr, nnz};
    parallel_rows(column_pointers, in, nnz * stride, [&](int64_t begin, int64_t end) {
      spmm_rows(column_pointers, row_indices, value, g, stride, rows, nullptr, gx, in, begin, end);
    });
  });
}

// grad_output.data: [out, stride]; input.data: [in, stride]; grad_values: [nnz].
void sparse_linear_backward_values(const FeatureMajor& grad_output, const FeatureMajor& input,
                                   const SparseStructure& structure, const Tensor& grad_values) {
  const int64_t rows = input.rows, out = structure.out_features, stride = input.stride();
  const float* g = pointer<float>(grad_output.data);
  const float* x = pointer<float>(input.data);
  float* gw = mutable_pointer<float>(grad_values);
  visit_index(structure.index_dtype(), [&](auto tag) {
    using Index = typename decltype(tag)::type;
    const Index* row_pointers = pointer<Index>(structure.row_pointers);
    const Index* column_indices = pointer<Index>(structure.column_indices);
    parallel_rows(row_pointers, out, structure.nnz() * stride, [&](int64_t begin, int64_t end) {
      sddmm_rows(row_pointers, column_indices, g, x, stride, rows, gw, begin, end);
    });
  });
}

// grad_output: [rows, out] batch-major; grad_bias: [out] (column sums, see kernels/cpu/parallel.h).
void sparse_linear_backward_bias(const Tensor& grad_output, const Tensor& grad_bias) {
  column_sums(pointer<float>(grad_output), grad_output.size(0), grad_output.size(1), mutable_pointer<float>(grad_bias));
}

}  // namespace wisp::kernels::cpu
