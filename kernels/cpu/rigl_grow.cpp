// CPU twin of RigL's grow step (kernels/rigl.h): the `count` positions of the largest |G[o, i]| not
// held by a staying nonzero, for G = gᵀ x with g = grad_output [rows, out] and x = input [rows, in]
// batch-major float32, G [out, in] never held whole; positions Int64 [count], increasing.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/rigl.h"
#include "wisp/kernels/cpu/rigl_bf16_screen.h"
#include "wisp/kernels/cpu/rigl_grow_tiles.h"
#include "wisp/kernels/cpu/rigl_sort.h"
#include "wisp/kernels/cpu/rigl_top_k.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace wisp::kernels::cpu {
namespace {

using rigl_detail::Better;
using rigl_detail::Candidate;
using rigl_detail::ConstMatrixMap;
using rigl_detail::exclude_kept;
using rigl_detail::GrowProblem;
using rigl_detail::MatrixMap;
using rigl_detail::PassResult;
using rigl_detail::RowMajorMatrix;
using rigl_detail::run_tiles;
using rigl_detail::RunningTopK;
using rigl_detail::sort_positions;
#if defined(__AVX512BF16__)
using rigl_detail::build_screening_operands;
using rigl_detail::screened_grow_pass;
using rigl_detail::ScreeningOperands;
#endif

// A magnitude below which the count best candidates almost surely are not, estimated from a strided
// sample of G's rows: about kSampleEntries entries (all of G when it is smaller), exact GEMM. It is
// the magnitude at 1.25 times the expected rank of the count-th best in the sample (plus 64), a margin
// of many standard deviations of the rank. −1 (no floor) when the sample cannot support one.
// Whether the estimate held is checked afterwards; largest_absent_gradients falls back to a pass
// without a floor when it did not, so the result never depends on it.
template <class Index>
float estimate_floor(const GrowProblem<Index>& p, int64_t absent) {
  constexpr int64_t kSampleEntries = int64_t(1) << 21;
  const int64_t sample_rows = std::clamp<int64_t>(kSampleEntries / p.in, 1, p.out);
  const int64_t stride = p.out / sample_rows;
  RowMajorMatrix sampled_g(p.g.rows(), sample_rows);  // g's columns of the sampled rows of G
  for (int64_t s = 0; s < sample_rows; ++s) sampled_g.col(s) = p.g.col(s * stride);
  RowMajorMatrix sample(sample_rows, p.in);
  sample.noalias() = sampled_g.transpose() * p.x;
  std::vector<float> magnitudes;
  magnitudes.reserve(static_cast<size_t>(sample.size()));
  for (int64_t s = 0; s < sample_rows; ++s) {
    float* scores = &sample(s, 0);
    exclude_kept(p, s * stride, 0, p.in, scores);
    for (int64_t i = 0; i < p.in; ++i)
      if (!std::isnan(scores[i])) magnitudes.push_back(std::fabs(scores[i]));
  }
  const double expected_rank =
      static_cast<double>(p.count) / static_cast<double>(absent) * static_cast<double>(magnitudes.size());
  const auto rank = static_cast<int64_t>(std::ceil(1.25 * expected_rank)) + 64;
  if (rank >= static_cast<int64_t>(magnitudes.size())) return -1.0f;
  std::nth_element(magnitudes.begin(), magnitudes.begin() + rank, magnitudes.end(), std::greater<float>());
  return magnitudes[static_cast<size_t>(rank)];
}

// Bit j of the result is set when |values[j]| >= admission, for j < 32 (NaN never is). Most of G
// falls below the admission score, so the scan tests 32 entries per call and visits only the set
// bits. AVX-512 compares 16 lanes into a mask register; the portable loop is GCC-vectorised.
constexpr int64_t kScanChunk = 32;

inline uint32_t admitted_lanes(const float* values, float admission) {
#if defined(__AVX512F__)
  const __m512 floor = _mm512_set1_ps(admission);
  const __mmask16 low = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(values)), floor, _CMP_GE_OQ);
  const __mmask16 high = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(values + 16)), floor, _CMP_GE_OQ);
  return static_cast<uint32_t>(low) | (static_cast<uint32_t>(high) << 16);
#else
  uint32_t mask = 0;
  for (int j = 0; j < kScanChunk; ++j) mask |= static_cast<uint32_t>(std::fabs(values[j]) >= admission) << j;
  return mask;
#endif
}

// One pass over G in tiles of tile_rows × tile_columns. Threads take tiles dynamically; each
// computes its tile with Eigen's GEMM into its own buffer, excludes the kept nonzeros and feeds
// the magnitudes at or above `floor` to its own running top-k. Each thread's best `count` are
// merged: the global best `count` at or above the floor are among them, so the result does not
// depend on the tiling or the thread count.
template <class Index>
PassResult grow_pass(const GrowProblem<Index>& p, int64_t tile_elements, float floor) {
  constexpr int64_t kMaxTileColumns = 4096;  // columns of x that Eigen packs per tile: 64 x 4096 floats = 1 MiB
  const int64_t tile_columns = std::min(p.in, kMaxTileColumns);
  const int64_t tile_rows = std::max<int64_t>(1, std::min(p.out, tile_elements / tile_columns));
  const int64_t row_tiles = (p.out + tile_rows - 1) / tile_rows,
                column_tiles = (p.in + tile_columns - 1) / tile_columns;
  return run_tiles(
      row_tiles * column_tiles, p.count, floor, p.tie_seed, tile_rows * tile_columns,
      [&](int64_t t, RunningTopK& top, float* scratch) {
        const int64_t row_begin = t / column_tiles * tile_rows, column_begin = t % column_tiles * tile_columns;
        const int64_t height = std::min(tile_rows, p.out - row_begin),
                      width = std::min(tile_columns, p.in - column_begin);
        // Inside a parallel region Eigen's GEMM runs on this thread alone.
        MatrixMap block(scratch, height, width);
        block.noalias() = p.g.middleCols(row_begin, height).transpose() * p.x.middleCols(column_begin, width);
        for (int64_t r = 0; r < height; ++r) {
          const int64_t o = row_begin + r;
          float* scores = &block(r, 0);
          exclude_kept(p, o, column_begin, width, scores);
          const int64_t position_base = o * p.in + column_begin;
          float admission = top.admission_score();
          const auto consider = [&](int64_t j) {
            const float magnitude = std::fabs(scores[j]);
            if (magnitude >= admission) {
              top.push(magnitude, position_base + j);
              admission = top.admission_score();
            }
          };
          int64_t i = 0;
          for (; i + kScanChunk <= width; i += kScanChunk) {
            // consider() re-tests against the admission score, which may have risen meanwhile.
            for (uint32_t lanes = admitted_lanes(scores + i, admission); lanes != 0; lanes &= lanes - 1)
              consider(i + __builtin_ctz(lanes));
          }
          for (; i < width; ++i) consider(i);
        }
      });
}

}  // namespace

// grad_output g [rows, out], input x [rows, in] batch-major; dropped UInt8 [nnz]; positions Int64
// [count]. The dense gradient G = gᵀ x [out, in] is never held whole: grow_pass computes it in tiles
// of about tile_elements entries (whole rows of G when in is small) and keeps running top-k's.
//
// Most of a pass's cost beyond the GEMM is the top-k's admissions: from an empty start a stream of
// N candidates admits about k · ln(N / k) of them. So the pass starts from a floor estimated on a
// sample (estimate_floor), which admits about 1.25 k. If fewer than count candidates reached the
// floor, the estimate was too high and the pass runs again without it. Otherwise every one of the
// count best is at or above the floor (the count-th best overall is at least the count-th best of
// those admitted), so both ways give the exact result (measurements: docs/benchmarks.md, Kernel
// design log).
void largest_absent_gradients(const Tensor& grad_output, const Tensor& input, const SparseStructure& structure,
                              const Tensor& dropped, int64_t absent, int64_t count, uint64_t tie_seed,
                              int64_t tile_elements, const Tensor& positions) {
  int64_t* result = mutable_pointer<int64_t>(positions);
  if (count == 0) return;
  const int64_t rows = grad_output.size(0), out = structure.out_features, in = structure.in_features;
  std::vector<Candidate> merged;
  // The grow passes read column indices in the pointers' dtype: 16-bit ones are widened once per
  // update, O(nnz) against the step's O(out · in · rows).
  const DType pointer_dtype = structure.row_pointers.dtype();
  const Tensor columns = structure.column_indices.dtype() == pointer_dtype ? structure.column_indices
                                                                           : structure.column_indices.to(pointer_dtype);
  visit_index(pointer_dtype, [&](auto tag) {
    using Index = typename decltype(tag)::type;
    const GrowProblem<Index> problem{ConstMatrixMap(pointer<float>(grad_output), rows, out),
                                     ConstMatrixMap(pointer<float>(input), rows, in),
                                     pointer<Index>(structure.row_pointers),
                                     pointer<Index>(columns),
                                     pointer<uint8_t>(dropped),
                                     out,
                                     in,
                                     count,
                                     tie_seed};
#if defined(__AVX512BF16__)
    ScreeningOperands operands;
    const bool screening_usable = build_screening_operands(problem.g, problem.x, operands);
#endif
    const float floor = estimate_floor(problem, absent);
    const auto run = [&](float admission_floor) {
#if defined(__AVX512BF16__)
      if (screening_usable) return screened_grow_pass(problem, operands, tile_elements, admission_floor);
#endif
      return grow_pass(problem, tile_elements, admission_floor);
    };
    PassResult pass = run(floor);
    if (pass.admitted < count && floor >= 0.0f) pass = run(-1.0f);
    merged = std::move(pass.best);
  });
  // Only NaN gradients (a diverged run) leave fewer candidates than count; the CUDA twin's select
  // reports the same.
  WISP_CHECK(static_cast<int64_t>(merged.size()) >= count, "largest_absent_gradients: expected at most ", merged.size(),
             " positions not kept with a gradient that is not NaN to select but got ", count);
  if (static_cast<int64_t>(merged.size()) > count) {
    std::nth_element(merged.begin(), merged.begin() + (count - 1), merged.end(), Better{tie_seed});
    merged.resize(static_cast<size_t>(count));
  }
  for (int64_t j = 0; j < count; ++j) result[j] = merged[static_cast<size_t>(j)].position;
  sort_positions(result, count, out * in);
}

}  // namespace wisp::kernels::cpu
