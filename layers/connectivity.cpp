#include "wisp/layers/connectivity.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <limits>
#include <new>
#include <vector>

#include "wisp/core/factories.h"
#include "wisp/core/random.h"

namespace wisp::nn {
namespace {

// Tags mixed into the seed so that random and small-world connectivity built from the same seed
// (and the retries of small-world) use unrelated streams.
constexpr uint64_t kRandomConnectivityTag = 0x52616E646F6D436Full;
constexpr uint64_t kSmallWorldTag = 0x536D616C6C576F72ull;

// Draw k of a stream is random_bits(key, k): a pure function of (key, k), so any number of these
// streams can run on any threads with the same results.
class UniformStream {
 public:
  explicit UniformStream(uint64_t key) : key_(key) {}
  uint64_t bits() { return random_bits(key_, counter_++); }
  double open_uniform() { return open_uniform_from_bits(bits()); }                             // (0, 1]
  double uniform() { return static_cast<double>(bits() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)

 private:
  uint64_t key_;
  uint64_t counter_ = 0;
};

// `count` value-initialised elements for `what`, or a wisp::Error naming `function` and `what` when
// they exceed the largest allocation or the system has no memory for them (instead of
// std::length_error or std::bad_alloc).
template <class T>
std::vector<T> allocate_vector(const char* function, const char* what, uint64_t count) {
  WISP_CHECK(count <= kMaxStorageBytes / sizeof(T), "SparseLinear: ", function, ": the ", what, " needs ", count, " × ",
             sizeof(T), " bytes, more than the largest allocation (", kMaxStorageBytes, " bytes)");
  try {
    return std::vector<T>(static_cast<size_t>(count));
  } catch (const std::bad_alloc&) {
    WISP_FAIL("SparseLinear: ", function, ": out of memory allocating the ", what, " (", count, " × ", sizeof(T),
              " bytes)");
  }
}

// Checks the layer shape and returns in_features · out_features (the number of possible pairs).
int64_t checked_pair_count(const char* function, int64_t in_features, int64_t out_features) {
  WISP_CHECK(in_features > 0 && out_features > 0, "SparseLinear: ", function,
             " expected positive in_features and out_features but got ", in_features, " and ", out_features);
  WISP_CHECK(in_features <= std::numeric_limits<int64_t>::max() / out_features, "SparseLinear: ", function,
             ": in_features × out_features = ", in_features, " × ", out_features, " overflows int64");
  return in_features * out_features;
}

// ---- Uniform sampling without replacement: Vitter, "An efficient algorithm for sequential random
// sampling", ACM TOMS 13(1), 1987 — Method D, finishing with Method A once the sample is a large
// fraction of what is left. Calls emit(index) for `count` distinct indices of [0, population), in
// increasing order; every count-subset is equally likely. O(count) expected time, O(1) memory.
//
// Chosen over the alternatives by measurement and simplicity: per-row counts need an exact
// hypergeometric sampler per row before any parallel work, and "draw, sort, deduplicate, redraw"
// needs a 2.5M-element sort (~0.2 s alone); Method D produces sorted cells in ~0.1 s for 2.5M
// connections on one core, with no extra memory.

// Method A: O(population) but cheap per step; Vitter uses it when count/population ≥ 1/13.
template <class Emit>
void sample_method_a(int64_t population, int64_t count, int64_t& current, UniformStream& random, Emit& emit) {
  double top = static_cast<double>(population - count);
  double remaining = static_cast<double>(population);
  while (count >= 2) {
    const double v = random.uniform();
    int64_t skip = 0;
    double quotient = top / remaining;
    while (quotient > v) {
      ++skip;
      top -= 1.0;
      remaining -= 1.0;
      quotient = quotient * top / remaining;
    }
    current += skip + 1;
    emit(current);
    remaining -= 1.0;
    --count;
  }
  // The last one: uniform over what is left.
  current += static_cast<int64_t>(bounded_from_bits(random.bits(), static_cast<uint64_t>(std::llround(remaining)))) + 1;
  emit(current);
}

template <class Emit>
void sample_sorted_without_replacement(int64_t population, int64_t count, UniformStream& random, Emit emit) {
  constexpr int64_t kAlphaInverse = 13;  // Vitter's switch-over ratio to Method A
  int64_t current = -1;                  // the last selected index
  int64_t n = count, N = population;     // still to select, still to scan
  double n_real = static_cast<double>(n), N_real = static_cast<double>(N);
  double n_inverse = 1.0 / n_real;
  double v_prime = std::exp(std::log(random.open_uniform()) * n_inverse);
  int64_t quotient_1 = N - n + 1;
  double quotient_1_real = N_real - n_real + 1.0;
  // Vitter's loop condition kAlphaInverse · n < N, by division: the product overflows for
  // n > INT64_MAX / 13.
  while (n > 1 && n <= (N - 1) / kAlphaInverse) {
    const double n_minus_1_inverse = 1.0 / (n_real - 1.0);
    int64_t skip;
    double skip_real;
    while (true) {
      // Step D2: a candidate skip X from the continuous envelope, kept when S < quotient_1.
      double x;
      while (true) {
        x = N_real * (1.0 - v_prime);
        skip = static_cast<int64_t>(x);
        if (skip < quotient_1) break;
        v_prime = std::exp(std::log(random.open_uniform()) * n_inverse);
      }
      const double u = random.open_uniform();
      skip_real = static_cast<double>(-skip);
      const double y1 = std::exp(std::log(u * N_real / quotient_1_real) * n_minus_1_inverse);
      v_prime = y1 * (1.0 - x / N_real) * (quotient_1_real / (skip_real + quotient_1_real));
      if (v_prime <= 1.0) break;  // accepted by the cheap squeeze test (Vitter's 2.8)
      // Step D3: the exact test.
      double y2 = 1.0, top = N_real - 1.0, bottom;
      int64_t limit;
      if (n - 1 > skip) {
        bottom = N_real - n_real;
        limit = N - skip;
      } else {
        bottom = N_real + skip_real - 1.0;
        limit = quotient_1;
      }
      for (int64_t t = N - 1; t >= limit; --t) {
        y2 = y2 * top / bottom;
        top -= 1.0;
        bottom -= 1.0;
      }
      if (N_real / (N_real - x) >= y1 * std::exp(std::log(y2) * n_minus_1_inverse)) {
        v_prime = std::exp(std::log(random.open_uniform()) * n_minus_1_inverse);
        break;  // accepted by the exact test
      }
      v_prime = std::exp(std::log(random.open_uniform()) * n_inverse);
    }
    current += skip + 1;
    emit(current);
    N = N - skip - 1;
    N_real = N_real + skip_real - 1.0;
    --n;
    n_real -= 1.0;
    n_inverse = n_minus_1_inverse;
    quotient_1 -= skip;
    quotient_1_real += skip_real;
  }
  if (n > 1) {
    sample_method_a(N, n, current, random, emit);
  } else {
    // v_prime is in (0, 1]; v_prime == 1 (probability 2^-53) would step one past the end.
    current += std::min(static_cast<int64_t>(static_cast<double>(N) * v_prime), N - 1) + 1;
    emit(current);
  }
}

// ---- Small-world ------------------------------------------------------------------------------

// Pairs grouped by distance. With d = |i − j − (out − in)/2|, twice the distance is the integer
// m = |2(i − j) − (out − in)|: every m ≤ in + out − 2 of the parity of in + out occurs, so Σ P(λ)
// is a sum over (in + out − 2) / 2 + 1 distinct distances, 16 bytes each.
struct DistanceHistogram {
  struct Distance {
    double pairs;                // pairs at this distance d
    double log_distance_plus_1;  // log(d + 1)
  };
  std::vector<Distance> distances;  // by increasing distance
  int64_t zero_distance_pairs = 0;  // Z: P = 1 for every λ

  DistanceHistogram(int64_t in_features, int64_t out_features) {
    // Unsigned: in + out may exceed int64 by one (1 × INT64_MAX); the count of distances cannot.
    const uint64_t largest_twice_distance =
        static_cast<uint64_t>(in_features) + static_cast<uint64_t>(out_features) - 2;
    distances =
        allocate_vector<Distance>("small_world_connectivity", "distance histogram", largest_twice_distance / 2 + 1);
    // From here in + out <= 2^60 (the histogram fits an allocation), so nothing below overflows.
    // Pairs with i − j = k: i ∈ [max(0, k), min(out − 1, in − 1 + k)], none outside k ∈ [−(in − 1), out − 1].
    auto pairs_at = [&](int64_t k) {
      return std::max<int64_t>(0, std::min(out_features - 1, in_features - 1 + k) - std::max<int64_t>(0, k) + 1);
    };
    const int64_t shift = out_features - in_features;
    const int64_t parity = (in_features + out_features) % 2;
    for (size_t e = 0; e < distances.size(); ++e) {
      const int64_t twice_distance = parity + 2 * static_cast<int64_t>(e);  // m = |2k − shift|
      const int64_t pairs =
          pairs_at((shift + twice_distance) / 2) + (twice_distance > 0 ? pairs_at((shift - twice_distance) / 2) : 0);
      distances[e] = {static_cast<double>(pairs), std::log1p(0.5 * static_cast<double>(twice_distance))};
      if (twice_distance == 0) zero_distance_pairs = pairs;
    }
  }

  // Σ_ij (d_ij + 1)^(-λ): the expected number of connections. Sequential so that λ, and with it
  // the result, never depends on the thread count.
  double expected_connections(double lambda) const {
    double sum = 0.0;
    for (const Distance& distance : distances) sum += distance.pairs * std::exp(-lambda * distance.log_distance_plus_1);
    return sum;
  }
};

// λ ≥ 0 with Σ P(λ) = nnz (see the header for why [0, 256] always brackets a root when nnz ≥ Z).
double solve_small_world_lambda(const DistanceHistogram& histogram, int64_t in_features, int64_t out_features,
                                double sparsity, int64_t nnz) {
  constexpr double kLargestLambda = 256.0;  // every P with d ≥ 0.5 is below 1.5^-256 ≈ 1e-45
  constexpr int kMaxBisections = 200;       // ~60 already reach the resolution of a double
  const double target = static_cast<double>(nnz);
  const double tolerance = 1e-9 * target;  // far below the count's own spread (√nnz)
  if (histogram.expected_connections(0.0) <= target + tolerance) return 0.0;  // sparsity 0: all pairs

  double low = 0.0, high = 1.0;
  double high_sum = histogram.expected_connections(high);
  while (high_sum > target + tolerance && high < kLargestLambda) {
    low = high;
    high *= 2.0;
    high_sum = histogram.expected_connections(high);
  }
  WISP_CHECK(high_sum <= target + tolerance, "SparseLinear: small-world connectivity cannot give ", nnz,
             " connections (sparsity ", sparsity, ", in_features=", in_features, ", out_features=", out_features,
             "): the ", histogram.zero_distance_pairs,
             " input/output pairs at distance 0 connect for every λ (P = 1), so the fewest it can give is ",
             histogram.zero_distance_pairs, " (sparsity at most ",
             1.0 - static_cast<double>(histogram.zero_distance_pairs) /
                       (static_cast<double>(in_features) * static_cast<double>(out_features)),
             "); lower the sparsity or use random connectivity");
  if (std::abs(high_sum - target) <= tolerance) return high;

  for (int iteration = 0; iteration < kMaxBisections; ++iteration) {
    const double middle = 0.5 * (low + high);
    if (middle <= low || middle >= high) break;  // the bracket cannot shrink further
    const double sum = histogram.expected_connections(middle);
    if (std::abs(sum - target) <= tolerance) return middle;
    (sum > target ? low : high) = middle;
  }
  return 0.5 * (low + high);
}

// One outward walk from an output row's position over inputs first, first + step, ... (`length` of
// them) at distances first_distance, first_distance + 1, ...: calls emit(j) for each input that
// connects, each independently with P = (d + 1)^(-λ). P only falls along the walk, so the P of the
// last candidate bounds the rest: jump to the next candidate of a Bernoulli(bound) process with one
// geometric draw, keep it with probability P/bound (thinning), and tighten the bound to its P.
template <class Emit>
void sample_walk(int64_t first, int64_t step, int64_t length, double first_distance, double lambda,
                 UniformStream& random, Emit emit) {
  auto probability = [&](int64_t t) { return std::exp(-lambda * std::log1p(first_distance + static_cast<double>(t))); };
  int64_t t = 0;  // the first position not yet decided
  double bound = length > 0 ? probability(0) : 0.0;
  while (t < length) {
    int64_t candidate = t;
    if (bound < 1.0) {
      if (bound <= 0.0) break;  // P underflowed to 0: nothing further can connect
      const double skip = std::floor(std::log(random.open_uniform()) / std::log1p(-bound));
      if (skip >= static_cast<double>(length - t)) break;
      candidate = t + static_cast<int64_t>(skip);
    }
    const double p = probability(candidate);
    if (p >= bound || random.uniform() * bound < p) emit(first + step * candidate);
    bound = p;
    t = candidate + 1;
  }
}

// coalesce_connectivity of validated pairs when there are more output features than pairs: sorts
// the cells row · in + col (below in · out, which fits int64), O(nnz log nnz) time and 8 bytes per
// pair, nothing per output feature.
Tensor coalesce_by_cell(const int64_t* given_rows, const int64_t* given_cols, int64_t nnz, int64_t in_features) {
  std::vector<int64_t> cells =
      allocate_vector<int64_t>("coalesce_connectivity", "sort buffer", static_cast<uint64_t>(nnz));
  for (int64_t k = 0; k < nnz; ++k) cells[static_cast<size_t>(k)] = given_rows[k] * in_features + given_cols[k];
  std::sort(cells.begin(), cells.end());
  const int64_t total = std::unique(cells.begin(), cells.end()) - cells.begin();
  Tensor result = empty({2, total}, DType::Int64);
  int64_t* rows = result.data<int64_t>();
  int64_t* cols = rows + total;
  for (int64_t k = 0; k < total; ++k) {
    rows[k] = cells[static_cast<size_t>(k)] / in_features;
    cols[k] = cells[static_cast<size_t>(k)] % in_features;
  }
  return result;
}

// coalesce_connectivity of validated pairs when there are at least as many pairs as output
// features: a counting sort by row (stable, O(nnz + out)), then each row's columns sorted and
// deduplicated, in parallel.
Tensor coalesce_by_row(const int64_t* given_rows, const int64_t* given_cols, int64_t nnz, int64_t out_features) {
  const char* function = "coalesce_connectivity";
  const uint64_t rows_plus_1 = static_cast<uint64_t>(out_features) + 1;
  std::vector<int64_t> row_starts = allocate_vector<int64_t>(function, "row pointers", rows_plus_1);
  for (int64_t k = 0; k < nnz; ++k) ++row_starts[static_cast<size_t>(given_rows[k]) + 1];
  for (int64_t row = 0; row < out_features; ++row)
    row_starts[static_cast<size_t>(row) + 1] += row_starts[static_cast<size_t>(row)];
  std::vector<int64_t> sorted_cols = allocate_vector<int64_t>(function, "sort buffer", static_cast<uint64_t>(nnz));
  {
    std::vector<int64_t> fill = allocate_vector<int64_t>(function, "row fill positions", rows_plus_1);
    std::copy(row_starts.begin(), row_starts.end(), fill.begin());
    for (int64_t k = 0; k < nnz; ++k)
      sorted_cols[static_cast<size_t>(fill[static_cast<size_t>(given_rows[k])]++)] = given_cols[k];
  }
  std::vector<int64_t> unique_counts =
      allocate_vector<int64_t>(function, "per-row counts", static_cast<uint64_t>(out_features));
#pragma omp parallel for schedule(dynamic, 256) if (nnz > 65536)
  for (int64_t row = 0; row < out_features; ++row) {
    const auto begin = sorted_cols.begin() + row_starts[static_cast<size_t>(row)];
    const auto end = sorted_cols.begin() + row_starts[static_cast<size_t>(row) + 1];
    std::sort(begin, end);
    unique_counts[static_cast<size_t>(row)] = std::unique(begin, end) - begin;
  }

  int64_t total = 0;
  for (int64_t count : unique_counts) total += count;
  Tensor result = empty({2, total}, DType::Int64);
  int64_t* rows = result.data<int64_t>();
  int64_t* cols = rows + total;
  int64_t offset = 0;
  for (int64_t row = 0; row < out_features; ++row) {
    const int64_t count = unique_counts[static_cast<size_t>(row)];
    std::fill_n(rows + offset, count, row);
    std::copy_n(sorted_cols.begin() + row_starts[static_cast<size_t>(row)], count, cols + offset);
    offset += count;
  }
  return result;
}

}  // namespace

int64_t connections_for_sparsity(int64_t in_features, int64_t out_features, double sparsity) {
  const int64_t pairs = checked_pair_count("connections_for_sparsity", in_features, out_features);
  WISP_CHECK(sparsity >= 0.0 && sparsity < 1.0, "SparseLinear: sparsity must be in [0, 1) but got ", sparsity,
             " (in_features=", in_features, ", out_features=", out_features, ")");
  const double connections = std::round((1.0 - sparsity) * static_cast<double>(pairs));
  WISP_CHECK(connections >= 1.0, "SparseLinear: sparsity ", sparsity, " leaves round((1 - ", sparsity, ") × ", pairs,
             ") = 0 connections for in_features=", in_features, ", out_features=", out_features,
             "; expected at least 1 (sparsity at most ", 1.0 - 0.5 / static_cast<double>(pairs), ")");
  // Above 2^53 pairs the double product can round past the exact count (and past int64).
  if (connections >= static_cast<double>(pairs)) return pairs;
  return static_cast<int64_t>(connections);
}

Tensor random_connectivity(int64_t in_features, int64_t out_features, int64_t nnz, uint64_t seed) {
  const int64_t pairs = checked_pair_count("random_connectivity", in_features, out_features);
  WISP_CHECK(nnz >= 1 && nnz <= pairs, "SparseLinear: random_connectivity expected nnz in [1, ", pairs,
             "] (in_features=", in_features, ", out_features=", out_features, ") but got ", nnz);
  Tensor result = empty({2, nnz}, DType::Int64);
  int64_t* rows = result.data<int64_t>();
  int64_t* cols = rows + nnz;
  UniformStream random(random_bits(kRandomConnectivityTag, seed));
  int64_t written = 0, row = 0, row_start = 0;
  // Cells arrive in increasing row-major order: a division only when the row changes, which keeps
  // the time O(nnz) however many rows lie between two connections (stepping row by row took
  // O(out_features): hours for 1 × 2^62 with two connections).
  sample_sorted_without_replacement(pairs, nnz, random, [&](int64_t cell) {
    if (cell >= row_start + in_features) {
      row = cell / in_features;
      row_start = row * in_features;
    }
    rows[written] = row;
    cols[written] = cell - row_start;
    ++written;
  });
  assert(written == nnz);
  return result;
}

Tensor small_world_connectivity(int64_t in_features, int64_t out_features, double sparsity, uint64_t seed) {
  const int64_t nnz = connections_for_sparsity(in_features, out_features, sparsity);
  const DistanceHistogram histogram(in_features, out_features);
  const double lambda = solve_small_world_lambda(histogram, in_features, out_features, sparsity, nnz);

  // Rows in fixed blocks (independent of the thread count); each block collects its columns, and
  // (row, count) for each of its rows with a connection, so that memory follows the connections
  // rather than out_features. A single block runs without a parallel region, whose start-up would
  // dominate small layers.
  constexpr int64_t kRowsPerBlock = 128;
  const int64_t blocks = (out_features + kRowsPerBlock - 1) / kRowsPerBlock;  // in + out <= 2^60: see the histogram
  struct RowRun {
    int64_t row, count;
  };
  struct Block {
    std::vector<int64_t> cols;
    std::vector<RowRun> runs;
  };
  std::vector<Block> block_connections =
      allocate_vector<Block>("small_world_connectivity", "per-block connection lists", static_cast<uint64_t>(blocks));

  // The count is random; an empty draw (likely only when nnz is ~1) would make an empty layer, so
  // redraw with the next stream: that samples the independent model conditioned on ≥ 1 connection.
  // Each attempt is empty with probability Π(1 − P) ≤ exp(−Σ P) ≈ exp(−nnz) ≤ 0.37.
  constexpr uint64_t kMaxAttempts = 64;
  int64_t total = 0;
  // An exception must not leave an OpenMP region: a block that runs out of memory says so here.
  std::atomic<bool> out_of_memory{false};
  for (uint64_t attempt = 0; attempt < kMaxAttempts && total == 0; ++attempt) {
    const uint64_t stream = random_bits(kSmallWorldTag + attempt, seed);
#pragma omp parallel for schedule(dynamic, 1) if (blocks > 1)
    for (int64_t block = 0; block < blocks; ++block) {
      std::vector<int64_t>& cols = block_connections[static_cast<size_t>(block)].cols;
      std::vector<RowRun>& runs = block_connections[static_cast<size_t>(block)].runs;
      cols.clear();
      runs.clear();
      try {
        std::vector<int64_t> left;  // the walk towards lower inputs yields them in decreasing order
        const int64_t row_end = std::min(out_features, (block + 1) * kRowsPerBlock);
        for (int64_t row = block * kRowsPerBlock; row < row_end; ++row) {
          UniformStream random(random_bits(stream, static_cast<uint64_t>(row)));
          // The row's position in input-index units: pos_i = pos_j ⇔ j = i − (out − in)/2.
          const double position = static_cast<double>(row) - 0.5 * static_cast<double>(out_features - in_features);
          const int64_t first_right = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(position)));
          const int64_t first_left = std::min(in_features - 1, static_cast<int64_t>(std::ceil(position)) - 1);
          const size_t row_begin = cols.size();
          left.clear();
          sample_walk(first_left, -1, first_left + 1, position - static_cast<double>(first_left), lambda, random,
                      [&](int64_t col) { left.push_back(col); });
          cols.insert(cols.end(), left.rbegin(), left.rend());
          sample_walk(first_right, +1, in_features - first_right, static_cast<double>(first_right) - position, lambda,
                      random, [&](int64_t col) { cols.push_back(col); });
          if (cols.size() > row_begin) runs.push_back({row, static_cast<int64_t>(cols.size() - row_begin)});
        }
      } catch (const std::bad_alloc&) {
        out_of_memory = true;
      }
    }
    WISP_CHECK(!out_of_memory, "SparseLinear: small_world_connectivity: out of memory collecting the connections (",
               "in_features=", in_features, ", out_features=", out_features, ", sparsity ", sparsity, ")");
    total = 0;
    for (const Block& block : block_connections) total += static_cast<int64_t>(block.cols.size());
  }
  WISP_CHECK(total > 0, "SparseLinear: small-world connectivity drew no connection in ", kMaxAttempts,
             " attempts (in_features=", in_features, ", out_features=", out_features, ", sparsity ", sparsity, ")");

  std::vector<int64_t> block_offsets =
      allocate_vector<int64_t>("small_world_connectivity", "per-block offsets", static_cast<uint64_t>(blocks) + 1);
  for (int64_t block = 0; block < blocks; ++block)
    block_offsets[static_cast<size_t>(block) + 1] =
        block_offsets[static_cast<size_t>(block)] +
        static_cast<int64_t>(block_connections[static_cast<size_t>(block)].cols.size());
  Tensor result = empty({2, total}, DType::Int64);
  int64_t* rows = result.data<int64_t>();
  int64_t* cols = rows + total;
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int64_t block = 0; block < blocks; ++block) {
    const Block& connections = block_connections[static_cast<size_t>(block)];
    int64_t offset = block_offsets[static_cast<size_t>(block)];
    std::copy(connections.cols.begin(), connections.cols.end(), cols + offset);
    for (const RowRun& run : connections.runs) {
      std::fill_n(rows + offset, run.count, run.row);
      offset += run.count;
    }
  }
  return result;
}

Tensor coalesce_connectivity(const Tensor& connectivity, int64_t in_features, int64_t out_features) {
  checked_pair_count("connectivity", in_features, out_features);
  WISP_CHECK(connectivity.defined(),
             "SparseLinear: connectivity is an undefined tensor; expected an Int64 tensor of shape [2, nnz]");
  WISP_CHECK(connectivity.dtype() == DType::Int64, "SparseLinear: connectivity must have dtype ", DType::Int64,
             " but has dtype ", connectivity.dtype());
  WISP_CHECK(connectivity.dim() == 2 && connectivity.size(0) == 2,
             "SparseLinear: connectivity must have shape [2, nnz] (row 0: output indices, row 1: input indices) "
             "but has shape ",
             connectivity.shape());
  const int64_t nnz = connectivity.size(1);
  WISP_CHECK(nnz > 0,
             "SparseLinear: connectivity must hold at least one connection (shape [2, nnz], nnz > 0) but has shape ",
             connectivity.shape());

  std::vector<int64_t> host;  // only for tensors off the CPU
  const int64_t* given = nullptr;
  if (connectivity.is_cpu()) {
    given = connectivity.data<int64_t>();
  } else {
    host = allocate_vector<int64_t>("coalesce_connectivity", "host copy of the connectivity",
                                    2 * static_cast<uint64_t>(nnz));
    copy_bytes(host.data(), Device::cpu(), connectivity.raw_data(), connectivity.device(),
               host.size() * sizeof(int64_t));
    given = host.data();
  }
  const int64_t* given_rows = given;
  const int64_t* given_cols = given + nnz;
  for (int64_t k = 0; k < nnz; ++k) {
    WISP_CHECK(given_rows[k] >= 0 && given_rows[k] < out_features, "SparseLinear: connectivity row index ",
               given_rows[k], " at position ", k, " out of range [0, ", out_features, ")");
    WISP_CHECK(given_cols[k] >= 0 && given_cols[k] < in_features, "SparseLinear: connectivity col index ",
               given_cols[k], " at position ", k, " out of range [0, ", in_features, ")");
  }
  if (out_features > nnz) return coalesce_by_cell(given_rows, given_cols, nnz, in_features);
  return coalesce_by_row(given_rows, given_cols, nnz, out_features);
}

}  // namespace wisp::nn
