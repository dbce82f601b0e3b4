// The grow step's pass over G = gᵀ x with bf16 screening (AVX512-BF16), for g = grad_output
// [rows, out] and x = input [rows, in] batch-major float32; the operands are first laid out as
// ScreeningOperands (kernels/cpu/rigl_bf16_screen.h) and G is computed in tiles of kMicroRows rows.
//
// The GEMM of G is the bulk of a RigL update (measurements: docs/benchmarks.md, Kernel design log).
// VDPBF16PS multiplies pairs of bf16 values into fp32 accumulators at twice the rate of fp32 FMAs,
// but bf16 keeps 8 significant bits: those scores only screen. Every entry whose approximate
// magnitude could reach the admission score is then rescored exactly (an fp32 dot product in a fixed
// order) and only the exact scores rank, so the result is the exact top-k of the fp32 scores
// whatever the rounding did.
//
// The bound: rounding g and x to bf16 (nearest even) errs by at most u = 2^-8 relative (and 2^-126
// absolute: denormals are flushed); a product of two bf16 values is exact in fp32; `rows` fp32
// accumulations err by at most γ = rows · 2^-24 relative to Σ|terms|, and so does the exact
// rescoring. So |approximate − rescored| ≤ ((2u + u²)(1 + γ) + 2γ) · Σ_r |g[r, o]| |x[r, i]| + tiny,
// and by Cauchy–Schwarz Σ_r |g[r, o]| |x[r, i]| ≤ ‖g[:, o]‖ ‖x[:, i]‖. screening_slack(rows) (0.008
// up to ~1300 rows, against the formula's 0.00784 at 64) times the product of the norms, plus
// kScreeningAbsolute, bounds the error of each entry. Past kMaxScreenedRows (γ ≈ 0.008, the bound
// no longer screens much out) the exact pass runs instead.
#include "wisp/kernels/cpu/rigl_bf16_screen.h"

#if defined(__AVX512BF16__)
#include <immintrin.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstring>

namespace wisp::kernels::cpu::rigl_detail {
namespace {

constexpr float kScreeningAbsolute = 1e-30f;
constexpr int64_t kMaxScreenedRows = int64_t(1) << 17;

// The formula above for `rows`, 2% larger for the float rounding of the norms and of the bound
// itself, and never below 0.008.
float screening_slack(int64_t rows) {
  const double u = std::ldexp(1.0, -8), gamma = static_cast<double>(rows) * std::ldexp(1.0, -24);
  return static_cast<float>(std::max(0.008, 1.02 * ((2 * u + u * u) * (1 + gamma) + 2 * gamma)));
}
// The largest magnitude screened: bf16 rounds values above ~3.39e38 to infinity.
constexpr float kLargestScreened = 1e38f;

// bf16 of a float, rounded to nearest even (as VCVTNE2PS2BF16; inputs are finite).
inline uint16_t to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7f800000u) == 0) bits &= 0x80000000u;  // denormal: flushed, as the hardware does
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

}  // namespace

bool build_screening_operands(const ConstMatrixMap& g, const ConstMatrixMap& x, ScreeningOperands& ops) {
  const int64_t rows = g.rows(), out = g.cols(), in = x.cols();
  // The bound assumes bf16's relative rounding error: it fails for values that bf16 flushes to 0
  // (below FLT_MIN) or rounds to infinity (above ~3.39e38), and for norms that overflow float.
  // Such inputs take the exact pass instead (a denormal gradient once lost a top-k entry here).
  const auto screenable = [](const ConstMatrixMap& m) {
    const auto magnitudes = m.array().abs();
    return m.allFinite() && !((magnitudes > 0.0f && magnitudes < FLT_MIN).any()) &&
           !((magnitudes > kLargestScreened).any());
  };
  if (rows > kMaxScreenedRows || !screenable(g) || !screenable(x)) return false;
  ops.pairs = (rows + 1) / 2;
  ops.padded_in = (in + kMicroColumns - 1) / kMicroColumns * kMicroColumns;
  ops.padded_out = (out + kMicroRows - 1) / kMicroRows * kMicroRows;
  ops.x_pairs.assign(static_cast<size_t>(ops.pairs * ops.padded_in), 0u);
  ops.g_pairs.assign(static_cast<size_t>(ops.padded_out * ops.pairs), 0u);
  ops.x_columns.resize(static_cast<size_t>(in * rows));
  ops.g_columns.resize(static_cast<size_t>(out * rows));
  ops.x_norms.assign(static_cast<size_t>(ops.padded_in), 0.0f);
  ops.g_norms.resize(static_cast<size_t>(out));
  const auto pair = [rows](const ConstMatrixMap& m, int64_t p, int64_t column) {
    const uint32_t low = to_bf16(m(2 * p, column));
    const uint32_t high = 2 * p + 1 < rows ? to_bf16(m(2 * p + 1, column)) : 0u;
    return low | (high << 16);
  };
  // Column c of m [rows, columns] -> columns_out[c] (transposed), norms[c] (rounded up by 1e-6 so
  // the bound stays a bound) and its bf16 pairs at pairs_out[p * pair_stride + c * column_stride].
  const auto prepare = [&](const ConstMatrixMap& m, std::vector<float>& columns_out, std::vector<float>& norms,
                           std::vector<uint32_t>& pairs_out, int64_t pair_stride, int64_t column_stride) {
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < m.cols(); ++c) {
      double squares = 0;
      for (int64_t r = 0; r < rows; ++r) {
        columns_out[static_cast<size_t>(c * rows + r)] = m(r, c);
        squares += static_cast<double>(m(r, c)) * m(r, c);
      }
      norms[static_cast<size_t>(c)] = static_cast<float>(std::sqrt(squares) * (1 + 1e-6));
      for (int64_t p = 0; p < ops.pairs; ++p)
        pairs_out[static_cast<size_t>(p * pair_stride + c * column_stride)] = pair(m, p, c);
    }
  };
  prepare(x, ops.x_columns, ops.x_norms, ops.x_pairs, ops.padded_in, 1);
  prepare(g, ops.g_columns, ops.g_norms, ops.g_pairs, 1, ops.pairs);
  const auto finite = [](const std::vector<float>& norms) {
    return std::all_of(norms.begin(), norms.end(), [](float norm) { return std::isfinite(norm); });
  };
  return finite(ops.x_norms) && finite(ops.g_norms);
}

namespace {

// The exact score: Σ_r g[r, o] · x[r, i] in fp32, in 16 lanes then a fixed reduction order, so it
// does not depend on where or when it is computed.
inline float exact_score(const ScreeningOperands& ops, int64_t rows, int64_t o, int64_t i) {
  const float* a = ops.g_columns.data() + o * rows;
  const float* b = ops.x_columns.data() + i * rows;
  __m512 sum = _mm512_setzero_ps();
  int64_t r = 0;
  for (; r + 16 <= rows; r += 16) sum = _mm512_fmadd_ps(_mm512_loadu_ps(a + r), _mm512_loadu_ps(b + r), sum);
  if (r < rows) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (rows - r)) - 1u);
    sum = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + r), _mm512_maskz_loadu_ps(mask, b + r), sum);
  }
  return _mm512_reduce_add_ps(sum);
}

// tile [kMicroRows][tile_columns] (row stride tile_columns) = approximate G[o_begin .., i_begin ..)
// over `width` columns (a multiple of kMicroColumns, inside padded_in).
inline void screening_micro_tile(const ScreeningOperands& ops, int64_t o_begin, int64_t i_begin, int64_t width,
                                 float* tile, int64_t tile_columns) {
  for (int64_t i = 0; i < width; i += kMicroColumns) {
    __m512 acc[kMicroRows][2];
    for (int64_t r = 0; r < kMicroRows; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const uint32_t* x_pairs = ops.x_pairs.data() + i_begin + i;
    const uint32_t* g_pairs = ops.g_pairs.data() + o_begin * ops.pairs;
    for (int64_t p = 0; p < ops.pairs; ++p) {
      const __m512bh xa = reinterpret_cast<__m512bh>(_mm512_loadu_si512(x_pairs + p * ops.padded_in));
      const __m512bh xb = reinterpret_cast<__m512bh>(_mm512_loadu_si512(x_pairs + p * ops.padded_in + 16));
      for (int64_t r = 0; r < kMicroRows; ++r) {
        const __m512bh gr = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(g_pairs[r * ops.pairs + p])));
        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], gr, xa);
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], gr, xb);
      }
    }
    for (int64_t r = 0; r < kMicroRows; ++r) {
      _mm512_storeu_ps(tile + r * tile_columns + i, acc[r][0]);
      _mm512_storeu_ps(tile + r * tile_columns + i + 16, acc[r][1]);
    }
  }
}

}  // namespace

// grow_pass with bf16 screening and exact rescoring (see the top of this file); same contract and result.
template <class Index>
PassResult screened_grow_pass(const GrowProblem<Index>& p, const ScreeningOperands& ops, int64_t tile_elements,
                              float floor) {
  constexpr int64_t kMaxTileColumns = 4096;
  const int64_t rows = p.g.rows();
  const float relative_slack = screening_slack(rows);
  const int64_t tile_columns = std::min(ops.padded_in, kMaxTileColumns);
  const int64_t tile_rows =
      std::min(ops.padded_out, std::max<int64_t>(1, tile_elements / tile_columns / kMicroRows) * kMicroRows);
  const int64_t row_tiles = (ops.padded_out + tile_rows - 1) / tile_rows;
  const int64_t column_tiles = (ops.padded_in + tile_columns - 1) / tile_columns;
  // The scratch holds kMicroRows rows of approximate G at a time: scanned while still in cache.
  return run_tiles(
      row_tiles * column_tiles, p.count, floor, p.tie_seed, kMicroRows * tile_columns,
      [&](int64_t t, RunningTopK& top, float* scratch) {
        const int64_t row_begin = t / column_tiles * tile_rows, column_begin = t % column_tiles * tile_columns;
        const int64_t row_end = std::min(row_begin + tile_rows, ops.padded_out);
        const int64_t padded_width = std::min(tile_columns, ops.padded_in - column_begin);
        const int64_t width = std::min(padded_width, p.in - column_begin);  // real columns
        for (int64_t o_begin = row_begin; o_begin < row_end && o_begin < p.out; o_begin += kMicroRows) {
          screening_micro_tile(ops, o_begin, column_begin, padded_width, scratch, tile_columns);
          for (int64_t r = 0; r < kMicroRows && o_begin + r < p.out; ++r) {
            const int64_t o = o_begin + r;
            float* approximate = scratch + r * tile_columns;
            exclude_kept(p, o, column_begin, width, approximate);
            const __m512 slack = _mm512_set1_ps(relative_slack * ops.g_norms[static_cast<size_t>(o)]);
            const float* x_norms = ops.x_norms.data() + column_begin;
            const int64_t position_base = o * p.in + column_begin;
            for (int64_t i = 0; i < width; i += 16) {
              // |approximate| + slack · ‖x_i‖ + absolute >= admission: the exact score may reach it.
              const __m512 bound = _mm512_add_ps(
                  _mm512_fmadd_ps(slack, _mm512_loadu_ps(x_norms + i), _mm512_abs_ps(_mm512_loadu_ps(approximate + i))),
                  _mm512_set1_ps(kScreeningAbsolute));
              const __mmask16 valid =
                  width - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (width - i)) - 1u);
              uint32_t lanes = _mm512_mask_cmp_ps_mask(valid, bound, _mm512_set1_ps(top.admission_score()), _CMP_GE_OQ);
              for (; lanes != 0; lanes &= lanes - 1) {
                const int64_t j = i + __builtin_ctz(lanes);
                const float magnitude = std::fabs(exact_score(ops, rows, o, column_begin + j));
                if (magnitude >= top.admission_score()) top.push(magnitude, position_base + j);
              }
            }
          }
        }
      });
}

template PassResult screened_grow_pass<int32_t>(const GrowProblem<int32_t>& p, const ScreeningOperands& ops,
                                                int64_t tile_elements, float floor);
template PassResult screened_grow_pass<int64_t>(const GrowProblem<int64_t>& p, const ScreeningOperands& ops,
                                                int64_t tile_elements, float floor);

}  // namespace wisp::kernels::cpu::rigl_detail
#endif  // __AVX512BF16__
