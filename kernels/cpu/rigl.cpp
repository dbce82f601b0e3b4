// CPU kernels of RigL's connection update (kernels/rigl.h).
#include "wisp/kernels/cpu/rigl.h"

#include <omp.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

// GCC 12 reports a false "may be used uninitialized" inside Eigen's AVX-512 GEMM packing (as in
// kernels/cpu/linear.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop

#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/parallel.h"
#include "wisp/kernels/rigl_math.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace wisp::kernels::cpu {
namespace {

const float kNotACandidate = std::numeric_limits<float>::quiet_NaN();

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMatrixMap = Eigen::Map<const RowMajorMatrix>;
using MatrixMap = Eigen::Map<RowMajorMatrix>;

// A growth candidate: |G| at a position. Better is the one total order every choice uses —
// larger magnitude first, then the lower tie rank (kernels/rigl.h), then the lower position — so
// that the result is unique whatever the tiling and the thread count. The tie rank is computed only
// for equal magnitudes, which are rare, instead of being stored with every candidate.
struct Candidate {
  float score;
  int64_t position;
};
struct Better {
  uint64_t tie_seed;
  bool operator()(const Candidate& a, const Candidate& b) const {
    if (a.score != b.score) return a.score > b.score;
    const uint64_t rank_a = rigl_tie_rank(a.position, tie_seed), rank_b = rigl_tie_rank(b.position, tie_seed);
    return rank_a != rank_b ? rank_a < rank_b : a.position < b.position;
  }
};

// The best `k` candidates of a stream in O(k) memory: candidates collect in a buffer of up to 2k;
// a full buffer is cut back to its best k with nth_element (O(k), so O(1) amortised per push), and
// from then on only candidates better than the k-th best so far are admitted.
class RunningTopK {
 public:
  // floor: candidates below it are never admitted (−1: none); tie_seed: see rigl_tie_rank.
  RunningTopK(int64_t k, float floor, uint64_t tie_seed)
      : k_(static_cast<size_t>(k)), floor_(floor), better_{tie_seed} {
    buffer_.reserve(std::max<size_t>(2 * k_, 16));
  }

  // The magnitude below which nothing can enter: the floor while fewer than k were admitted.
  float admission_score() const { return full_ ? std::max(worst_.score, floor_) : floor_; }
  // How many candidates push() admitted.
  int64_t pushed() const { return pushed_; }

  void push(float score, int64_t position) {
    const Candidate candidate{score, position};
    if (full_ && !better_(candidate, worst_)) return;
    ++pushed_;
    buffer_.push_back(candidate);
    if (buffer_.size() >= std::max<size_t>(2 * k_, 16)) cut();
  }

  // The best k (or fewer, if fewer were pushed), in no particular order.
  std::vector<Candidate>& finish() {
    if (buffer_.size() > k_) cut();
    return buffer_;
  }

 private:
  void cut() {
    std::nth_element(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(k_ - 1), buffer_.end(), better_);
    buffer_.resize(k_);
    worst_ = buffer_[k_ - 1];  // nth_element leaves only better candidates before it
    full_ = true;
  }

  size_t k_;
  float floor_;
  Better better_;
  int64_t pushed_ = 0;
  std::vector<Candidate> buffer_;
  Candidate worst_{0.0f, 0};
  bool full_ = false;
};

}  // namespace

// values [nnz] float32; mask UInt8 [nnz]. A radix select on the magnitudes' bits (for floats ≥ 0
// the bit patterns order like the values): a histogram of the top 16 bits finds the bucket that
// holds the count-th smallest, nth_element on that bucket's keys finds the key itself, and everything
// below it is dropped, plus those equal to it with the lowest tie ranks until `count` is reached.
// Two parallel passes over the values instead of a serial nth_element over all of them (4M values:
// ~10 ms instead of ~35).
void smallest_magnitude_mask(const Tensor& values, int64_t count, uint64_t tie_seed, const Tensor& mask) {
  const int64_t nnz = values.numel();
  const float* v = pointer<float>(values);
  uint8_t* m = mutable_pointer<uint8_t>(mask);
  const auto key = [v](int64_t k) { return rigl_magnitude_bits(v[k]); };  // kernels/rigl_math.h
  if (count == 0) {
    std::fill(m, m + nnz, uint8_t(0));
    return;
  }
  constexpr int64_t kBuckets = int64_t(1) << 16;
  const bool parallel = nnz > kParallelThreshold;
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<int64_t> histograms(static_cast<size_t>(threads * kBuckets), 0);
#pragma omp parallel num_threads(threads)
  {
    int64_t* histogram = histograms.data() + omp_get_thread_num() * kBuckets;
#pragma omp for schedule(static)
    for (int64_t k = 0; k < nnz; ++k) ++histogram[key(k) >> 16];
  }
  int64_t below = 0;  // keys in the buckets before `bucket`
  uint32_t bucket = 0;
  for (;; ++bucket) {
    int64_t in_bucket = 0;
    for (int t = 0; t < threads; ++t) in_bucket += histograms[static_cast<size_t>(t * kBuckets + bucket)];
    if (below + in_bucket >= count) break;
    below += in_bucket;
  }
  std::vector<uint32_t> candidates;
  for (int64_t k = 0; k < nnz; ++k)
    if ((key(k) >> 16) == bucket) candidates.push_back(key(k));
  const int64_t rank = count - below - 1;  // of the threshold key among the bucket's keys
  std::nth_element(candidates.begin(), candidates.begin() + rank, candidates.end());
  const uint32_t threshold = candidates[static_cast<size_t>(rank)];
  int64_t less = below;
  for (uint32_t candidate : candidates) less += candidate < threshold;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t k = 0; k < nnz; ++k) m[k] = key(k) < threshold;
  const int64_t ties = count - less;  // to drop among the magnitudes equal to the threshold
  if (ties > 0) {
    std::vector<std::pair<uint64_t, int64_t>> tied;  // (tie rank, index)
    for (int64_t k = 0; k < nnz; ++k)
      if (key(k) == threshold) tied.emplace_back(rigl_tie_rank(k, tie_seed), k);
    std::nth_element(tied.begin(), tied.begin() + (ties - 1), tied.end());
    for (int64_t j = 0; j < ties; ++j) m[tied[static_cast<size_t>(j)].second] = 1;
  }
}

namespace {

// The inputs of the grow step, as the kernels below read them.
template <class Index>
struct GrowProblem {
  ConstMatrixMap g;  // grad_output [rows, out]
  ConstMatrixMap x;  // input [rows, in]
  const Index* row_pointers;
  const Index* column_indices;
  const uint8_t* dropped;  // [nnz]: 1 where a nonzero was just dropped (it competes); the others stay
  int64_t out, in, count;
  uint64_t tie_seed;
};

// Overwrites the kept nonzeros of output row o that fall in columns [column_begin, column_begin +
// width) of `scores` (G[o, column_begin ...]) with NaN, which fails every comparison and so never
// competes (nor does a NaN gradient, which only a diverged run produces). Columns are sorted.
template <class Index>
void exclude_kept(const GrowProblem<Index>& p, int64_t o, int64_t column_begin, int64_t width, float* scores) {
  const Index* row_columns = p.column_indices + p.row_pointers[o];
  const Index* row_end = p.column_indices + p.row_pointers[o + 1];
  for (const Index* c = std::lower_bound(row_columns, row_end, static_cast<Index>(column_begin));
       c < row_end && *c < column_begin + width; ++c) {
    if (!p.dropped[c - p.column_indices]) scores[static_cast<int64_t>(*c) - column_begin] = kNotACandidate;
  }
}

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

struct PassResult {
  std::vector<Candidate> best;  // the best min(count, admitted) candidates at or above the floor
  int64_t admitted = 0;         // candidates at or above the floor that were pushed
};

// One pass over G in tiles of tile_rows × tile_columns. Threads take tiles dynamically; each
// computes its tile with Eigen's GEMM into its own buffer, excludes the kept nonzeros and feeds
// the magnitudes at or above `floor` to its own running top-k. Each thread's best `count` are
// merged: the global best `count` at or above the floor are among them, so the result does not
// depend on the tiling or the thread count.
// Runs visit_tile(t, top, scratch) for every tile t in [0, tiles), threads taking tiles
// dynamically, each with its own RunningTopK(count, floor) and a scratch buffer of scratch_floats;
// returns every thread's best, merged, with the number of candidates they admitted.
template <class VisitTile>
PassResult run_tiles(int64_t tiles, int64_t count, float floor, uint64_t tie_seed, int64_t scratch_floats,
                     VisitTile visit_tile) {
  const int threads = std::max(1, static_cast<int>(std::min<int64_t>(omp_get_max_threads(), tiles)));
  std::vector<std::vector<Candidate>> best(static_cast<size_t>(threads));
  std::vector<int64_t> admitted(static_cast<size_t>(threads), 0);
#pragma omp parallel num_threads(threads)
  {
    RunningTopK top(count, floor, tie_seed);
    std::vector<float> scratch(static_cast<size_t>(scratch_floats));
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tiles; ++t) visit_tile(t, top, scratch.data());
    const int thread = omp_get_thread_num();
    admitted[static_cast<size_t>(thread)] = top.pushed();
    best[static_cast<size_t>(thread)] = std::move(top.finish());
  }
  PassResult result;
  for (size_t t = 0; t < best.size(); ++t) {
    result.best.insert(result.best.end(), best[t].begin(), best[t].end());
    result.admitted += admitted[t];
  }
  return result;
}

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

// Sorts positions[0, count), each in [0, cells), ascending: an LSD radix sort with 11-bit digits,
// as many passes as cells needs bits (3 for a 20000 × 20000 layer); 6x faster than std::sort on
// the 1.2M positions of that layer's first update.
void sort_positions(int64_t* positions, int64_t count, int64_t cells) {
  constexpr int kDigitBits = 11;
  constexpr int64_t kBuckets = int64_t(1) << kDigitBits;
  int bits = 1;
  while (bits < 63 && (int64_t(1) << bits) < cells) ++bits;
  std::vector<int64_t> buffer(static_cast<size_t>(count));
  int64_t* from = positions;
  int64_t* to = buffer.data();
  for (int shift = 0; shift < bits; shift += kDigitBits) {
    std::vector<int64_t> offsets(kBuckets + 1, 0);
    for (int64_t j = 0; j < count; ++j) ++offsets[static_cast<size_t>(((from[j] >> shift) & (kBuckets - 1)) + 1)];
    for (int64_t b = 0; b < kBuckets; ++b) offsets[static_cast<size_t>(b + 1)] += offsets[static_cast<size_t>(b)];
    for (int64_t j = 0; j < count; ++j)
      to[offsets[static_cast<size_t>((from[j] >> shift) & (kBuckets - 1))]++] = from[j];
    std::swap(from, to);
  }
  if (from != positions) std::copy(from, from + count, positions);
}

#if defined(__AVX512BF16__)
// ---- bf16 screening (AVX512-BF16) ------------------------------------------------------------------
//
// The GEMM of G is the bulk of a RigL update (20000 x 20000 x 64: ~0.34 s at Eigen's measured 75
// GFLOP/s FMA rate on this machine's two cores, about 6 training steps). VDPBF16PS multiplies pairs
// of bf16 values into fp32 accumulators at twice the rate of fp32 FMAs, but bf16 keeps 8 significant
// bits: those scores only screen. Every entry whose approximate magnitude could reach the admission
// score is then rescored exactly (an fp32 dot product in a fixed order) and only the exact scores
// rank, so the result is the exact top-k of the fp32 scores whatever the rounding did.
//
// The bound: rounding g and x to bf16 (nearest even) errs by at most u = 2^-8 relative (and 2^-126
// absolute: denormals are flushed); a product of two bf16 values is exact in fp32; `rows` fp32
// accumulations err by at most γ = rows · 2^-24 relative to Σ|terms|, and so does the exact
// rescoring. So |approximate − rescored| ≤ ((2u + u²)(1 + γ) + 2γ) · Σ_r |g[r, o]| |x[r, i]| + tiny,
// and by Cauchy–Schwarz Σ_r |g[r, o]| |x[r, i]| ≤ ‖g[:, o]‖ ‖x[:, i]‖. screening_slack(rows) (0.008
// up to ~1300 rows, against the formula's 0.00784 at 64) times the product of the norms, plus
// kScreeningAbsolute, bounds the error of each entry. Past kMaxScreenedRows (γ ≈ 0.008, the bound
// no longer screens much out) the exact pass runs instead.
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
constexpr int64_t kMicroRows = 6;      // rows of G per micro-kernel call: 6 x 2 accumulators
constexpr int64_t kMicroColumns = 32;  // columns: two vectors of 16 fp32 lanes

// The operands in the layouts the screening pass reads; built once per update, O((in + out) · rows).
struct ScreeningOperands {
  int64_t pairs = 0;              // batch rows / 2, rounded up (an odd batch gets a zero row)
  int64_t padded_in = 0;          // in rounded up to kMicroColumns
  int64_t padded_out = 0;         // out rounded up to kMicroRows
  std::vector<uint32_t> x_pairs;  // [pairs][padded_in]: bf16 (x[2p, i], x[2p+1, i]), low half first
  std::vector<uint32_t> g_pairs;  // [padded_out][pairs]: bf16 (g[2p, o], g[2p+1, o])
  std::vector<float> x_columns;   // [in][rows]: x transposed, for exact rescoring
  std::vector<float> g_columns;   // [out][rows]
  std::vector<float> x_norms;     // [padded_in]: ‖x[:, i]‖ (0 in the padding)
  std::vector<float> g_norms;     // [out]: ‖g[:, o]‖
};

// bf16 of a float, rounded to nearest even (as VCVTNE2PS2BF16; inputs are finite).
inline uint16_t to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7f800000u) == 0) bits &= 0x80000000u;  // denormal: flushed, as the hardware does
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

// False when g or x hold a NaN or an infinity: the bound above then means nothing, and the Eigen
// pass (where NaN never competes) runs instead.
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

// grow_pass with bf16 screening and exact rescoring (see above); same contract and result.
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
#endif  // __AVX512BF16__

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
// those admitted), so both ways give the exact result. Measured on 20000 × 20000 at 99%, batch 64,
// k = 1.2M, 2 threads: 970 ms without the floor, 400 ms with k = 1 (the GEMM and the scan alone).
void largest_absent_gradients(const Tensor& grad_output, const Tensor& input, const SparseStructure& structure,
                              const Tensor& dropped, int64_t absent, int64_t count, uint64_t tie_seed,
                              int64_t tile_elements, const Tensor& positions) {
  int64_t* result = mutable_pointer<int64_t>(positions);
  if (count == 0) return;
  const int64_t rows = grad_output.size(0), out = structure.out_features, in = structure.in_features;
  std::vector<Candidate> merged;
  visit_index(structure.index_dtype(), [&](auto tag) {
    using Index = typename decltype(tag)::type;
    const GrowProblem<Index> problem{ConstMatrixMap(pointer<float>(grad_output), rows, out),
                                     ConstMatrixMap(pointer<float>(input), rows, in),
                                     pointer<Index>(structure.row_pointers),
                                     pointer<Index>(structure.column_indices),
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

// A merge of two increasing sequences of positions: the old nonzeros (in CSR order) and `grown`.
// Equal positions only happen for a dropped nonzero that is grown again (checked while merging:
// no staying nonzero is grown). Returns how many grown positions had no connection.
int64_t rewire_connections(const SparseStructure& structure, const Tensor& dropped, const Tensor& grown,
                           const RewiredConnections& result) {
  const int64_t in = structure.in_features, out = structure.out_features;
  const int64_t new_nnz = result.source.numel(), count = grown.numel();
  const uint8_t* drop = pointer<uint8_t>(dropped);
  const int64_t* grow = pointer<int64_t>(grown);
  int64_t* new_rows = mutable_pointer<int64_t>(result.indices);
  int64_t* new_columns = new_rows + new_nnz;
  int64_t* source = mutable_pointer<int64_t>(result.source);
  const int64_t cells = out * in;
  for (int64_t g = 0; g < count; ++g) {
    WISP_CHECK(grow[g] >= 0 && grow[g] < cells, "rewire_connections: grown position ", grow[g], " out of range [0, ",
               cells, ")");
    WISP_CHECK(g == 0 || grow[g] > grow[g - 1], "rewire_connections: expected increasing grown positions, but ",
               grow[g], " follows ", grow[g - 1]);
  }
  int64_t j = 0, next_grown = 0, new_connections = 0;
  const auto emit = [&](int64_t position, int64_t from) {
    new_connections += from < 0;
    new_rows[j] = position / in;
    new_columns[j] = position % in;
    source[j] = from;
    ++j;
  };
  visit_index(structure.index_dtype(), [&](auto tag) {
    using Index = typename decltype(tag)::type;
    const Index* row_pointers = pointer<Index>(structure.row_pointers);
    const Index* column_indices = pointer<Index>(structure.column_indices);
    for (int64_t o = 0; o < out; ++o) {
      for (Index k = row_pointers[o]; k < row_pointers[o + 1]; ++k) {
        const int64_t position = o * in + static_cast<int64_t>(column_indices[k]);
        while (next_grown < count && grow[next_grown] < position) emit(grow[next_grown++], -1);
        const bool regrown = next_grown < count && grow[next_grown] == position;
        WISP_CHECK(!regrown || drop[k], "rewire_connections: grown position ", position, " (", o, ", ",
                   column_indices[k], ") is a nonzero that is not dropped");
        if (regrown) ++next_grown;
        if (!drop[k] || regrown) emit(position, static_cast<int64_t>(k));
      }
    }
  });
  while (next_grown < count) emit(grow[next_grown++], -1);
  return new_connections;
}

// tensor float32 [n]; source Int64 [n]. Checks every source before writing, so that an error
// leaves tensor as it was.
void gather_or_zero_(const Tensor& tensor, const Tensor& source) {
  const int64_t n = tensor.numel();
  float* t = mutable_pointer<float>(tensor);
  const int64_t* from = pointer<int64_t>(source);
  for (int64_t j = 0; j < n; ++j)
    WISP_CHECK(from[j] < n, "gather_or_zero_: expected every source below the size ", n,
               " (negative: zero) but source[", j, "] = ", from[j]);
  const std::vector<float> old(t, t + n);
  for (int64_t j = 0; j < n; ++j) t[j] = from[j] >= 0 ? old[static_cast<size_t>(from[j])] : 0.0f;
}

}  // namespace wisp::kernels::cpu
