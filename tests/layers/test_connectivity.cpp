// Connectivity builders of nn::SparseLinear: random, small-world and user-given (coalesced).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "test_helpers.h"
#include "wisp/layers/connectivity.h"

// Requests of terabytes must come back as an out-of-memory error, not abort the process as
// AddressSanitizer does by default when an allocation cannot be satisfied.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }

using namespace wisp;

namespace {

struct Pairs {
  std::vector<int64_t> rows, cols;
  int64_t size() const { return static_cast<int64_t>(rows.size()); }
};

// REQUIREs the [2, nnz] Int64 CPU layout, every index in range, and strictly increasing (row, col)
// (sorted, no duplicates); returns the pairs.
Pairs require_valid(const Tensor& connectivity, int64_t in_features, int64_t out_features) {
  REQUIRE(connectivity.dtype() == DType::Int64);
  REQUIRE(connectivity.is_cpu());
  REQUIRE(connectivity.dim() == 2);
  REQUIRE(connectivity.size(0) == 2);
  const int64_t nnz = connectivity.size(1);
  REQUIRE(nnz > 0);
  const std::vector<int64_t> flat = connectivity.to_vector<int64_t>();
  Pairs pairs{{flat.begin(), flat.begin() + nnz}, {flat.begin() + nnz, flat.end()}};
  // One REQUIRE for the whole tensor (per-element assertions would dominate the run time).
  int64_t first_bad = -1;
  for (int64_t k = 0; k < nnz && first_bad < 0; ++k) {
    const bool in_range =
        pairs.rows[k] >= 0 && pairs.rows[k] < out_features && pairs.cols[k] >= 0 && pairs.cols[k] < in_features;
    const bool increasing = k == 0 || pairs.rows[k - 1] < pairs.rows[k] ||
                            (pairs.rows[k - 1] == pairs.rows[k] && pairs.cols[k - 1] < pairs.cols[k]);
    if (!in_range || !increasing) first_bad = k;
  }
  if (first_bad >= 0) {
    INFO("connection " << first_bad << ": (" << pairs.rows[first_bad] << ", " << pairs.cols[first_bad]
                       << ") is out of range or not after its predecessor; shape [out, in] = [" << out_features << ", "
                       << in_features << "]");
    REQUIRE(first_bad < 0);
  }
  return pairs;
}

// The line positions of DESIGN.md §6: input j at j − (in − 1)/2, output i at i − (out − 1)/2.
double distance(int64_t row, int64_t col, int64_t in_features, int64_t out_features) {
  return std::abs((static_cast<double>(row) - 0.5 * static_cast<double>(out_features - 1)) -
                  (static_cast<double>(col) - 0.5 * static_cast<double>(in_features - 1)));
}

double mean_distance(const Pairs& pairs, int64_t in_features, int64_t out_features) {
  double sum = 0.0;
  for (int64_t k = 0; k < pairs.size(); ++k) sum += distance(pairs.rows[k], pairs.cols[k], in_features, out_features);
  return sum / static_cast<double>(pairs.size());
}

// Chi-square statistic of observed counts against equal expected counts.
double chi_square_uniform(const std::vector<int64_t>& counts) {
  const double total = static_cast<double>(std::accumulate(counts.begin(), counts.end(), int64_t{0}));
  const double expected = total / static_cast<double>(counts.size());
  double statistic = 0.0;
  for (int64_t count : counts)
    statistic += (static_cast<double>(count) - expected) * (static_cast<double>(count) - expected) / expected;
  return statistic;
}

// A dense, independent re-derivation of the small-world λ (bisection on the full P matrix).
double dense_small_world_lambda(int64_t in_features, int64_t out_features, double nnz) {
  auto expected = [&](double lambda) {
    double sum = 0.0;
    for (int64_t i = 0; i < out_features; ++i)
      for (int64_t j = 0; j < in_features; ++j)
        sum += std::pow(distance(i, j, in_features, out_features) + 1.0, -lambda);
    return sum;
  };
  double low = 0.0, high = 64.0;
  for (int iteration = 0; iteration < 100; ++iteration) {
    const double middle = 0.5 * (low + high);
    (expected(middle) > nnz ? low : high) = middle;
  }
  return 0.5 * (low + high);
}

// Restores the thread count when a test changes it.
struct ThreadCountGuard {
  int saved = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

}  // namespace

// ---- connections_for_sparsity ------------------------------------------------------------------

TEST_CASE("connections_for_sparsity rounds (1 - sparsity) · in · out", "[layers][connectivity]") {
  CHECK(nn::connections_for_sparsity(784, 2000, 0.9) == 156800);
  CHECK(nn::connections_for_sparsity(2000, 10, 0.9) == 2000);
  CHECK(nn::connections_for_sparsity(50000, 50000, 0.999) == 2500000);
  CHECK(nn::connections_for_sparsity(20000, 20000, 0.99) == 4000000);
  CHECK(nn::connections_for_sparsity(3, 4, 0.0) == 12);
  CHECK(nn::connections_for_sparsity(1, 1, 0.0) == 1);
  CHECK(nn::connections_for_sparsity(1, 1, 0.5) == 1);      // 0.5 rounds up
  CHECK(nn::connections_for_sparsity(3, 1, 0.5) == 2);      // 1.5 rounds up
  CHECK(nn::connections_for_sparsity(10, 10, 0.974) == 3);  // 2.6
  CHECK(nn::connections_for_sparsity(10, 10, 0.976) == 2);  // 2.4
}

TEST_CASE("connections_for_sparsity rejects sparsities outside [0, 1) and empty layers", "[layers][connectivity]") {
  WISP_REQUIRE_ERROR(nn::connections_for_sparsity(784, 2000, 1.0), "sparsity must be in [0, 1)", "got 1",
                     "in_features=784", "out_features=2000");
  WISP_REQUIRE_ERROR(nn::connections_for_sparsity(784, 2000, -0.1), "sparsity must be in [0, 1)", "got -0.1");
  WISP_REQUIRE_ERROR(nn::connections_for_sparsity(784, 2000, 1.5), "sparsity must be in [0, 1)", "got 1.5");
  WISP_REQUIRE_ERROR(nn::connections_for_sparsity(784, 2000, std::nan("")), "sparsity must be in [0, 1)");
  WISP_REQUIRE_ERROR(nn::connections_for_sparsity(10, 10, 0.996), "sparsity 0.996", "0 connections", "in_features=10",
                     "out_features=10", "at least 1");
  WISP_REQUIRE_ERROR(nn::connections_for_sparsity(0, 10, 0.5), "positive in_features and out_features", "0 and 10");
  WISP_REQUIRE_ERROR(nn::connections_for_sparsity(10, -3, 0.5), "positive in_features and out_features", "10 and -3");
  WISP_REQUIRE_ERROR(nn::connections_for_sparsity(int64_t{1} << 40, int64_t{1} << 40, 0.5), "overflows int64");
}

// ---- random_connectivity -----------------------------------------------------------------------

TEST_CASE("random_connectivity gives exactly nnz sorted, distinct, in-range pairs on every shape",
          "[layers][connectivity]") {
  struct Case {
    int64_t in, out, nnz;
  };
  const std::vector<Case> cases = {
      {1, 1, 1},    {1, 50, 17},         {50, 1, 17},         {1, 50, 50},          {50, 1, 50},
      {4, 3, 12},   {7, 5, 1},           {5, 7, 34},          {13, 11, 70},         {300, 7, 20},
      {7, 300, 20}, {2000, 784, 156800}, {784, 2000, 156800}, {2000, 784, 1500000}, {100000, 3, 299990},
  };
  for (const Case& c : cases) {
    INFO("in " << c.in << ", out " << c.out << ", nnz " << c.nnz);
    const Pairs pairs = require_valid(nn::random_connectivity(c.in, c.out, c.nnz, 7), c.in, c.out);
    CHECK(pairs.size() == c.nnz);
  }
}

TEST_CASE("random_connectivity with every pair is the full grid in row-major order", "[layers][connectivity]") {
  const Pairs pairs = require_valid(nn::random_connectivity(4, 3, 12, 1), 4, 3);
  for (int64_t k = 0; k < 12; ++k) {
    CHECK(pairs.rows[k] == k / 4);
    CHECK(pairs.cols[k] == k % 4);
  }
}

TEST_CASE("random_connectivity is uniform over subsets", "[layers][connectivity]") {
  SECTION("every 3-subset of 6 cells equally likely (Method A path)") {
    // 3 of 6 is above Vitter's 1/13 ratio: Method A throughout. 20 subsets, 20000 draws.
    std::vector<int64_t> subset_counts(64, 0);
    for (uint64_t seed = 0; seed < 20000; ++seed) {
      const Pairs pairs = require_valid(nn::random_connectivity(3, 2, 3, seed), 3, 2);
      int mask = 0;
      for (int64_t k = 0; k < 3; ++k) mask |= 1 << (pairs.rows[k] * 3 + pairs.cols[k]);
      ++subset_counts[static_cast<size_t>(mask)];
    }
    std::vector<int64_t> observed;
    for (int mask = 0; mask < 64; ++mask) {
      if (__builtin_popcount(mask) == 3) observed.push_back(subset_counts[static_cast<size_t>(mask)]);
      else REQUIRE(subset_counts[static_cast<size_t>(mask)] == 0);
    }
    REQUIRE(observed.size() == 20);
    CHECK(chi_square_uniform(observed) < 19 + 6 * std::sqrt(2.0 * 19));  // mean 19, sd √38
  }
  SECTION("every cell equally likely and the smallest index has the right mean (Method D path)") {
    // 5 of 200 cells: 13 · 5 < 200, so Method D makes the draws. 20000 draws, 500 expected per cell.
    std::vector<int64_t> cell_counts(200, 0);
    double sum_of_smallest = 0.0, sum_of_largest = 0.0;
    const int draws = 20000;
    for (int seed = 0; seed < draws; ++seed) {
      const Pairs pairs = require_valid(nn::random_connectivity(20, 10, 5, static_cast<uint64_t>(seed)), 20, 10);
      REQUIRE(pairs.size() == 5);
      for (int64_t k = 0; k < 5; ++k) ++cell_counts[static_cast<size_t>(pairs.rows[k] * 20 + pairs.cols[k])];
      sum_of_smallest += static_cast<double>(pairs.rows[0] * 20 + pairs.cols[0]);
      sum_of_largest += static_cast<double>(pairs.rows[4] * 20 + pairs.cols[4]);
    }
    const double statistic = chi_square_uniform(cell_counts);
    CHECK(statistic < 199 + 6 * std::sqrt(2.0 * 199));
    CHECK(statistic > 199 - 6 * std::sqrt(2.0 * 199));
    // E[min] = (N + 1)/(n + 1) − 1 = 32.5 (0-based), sd ≈ 31, so the mean of 20000 has sd ≈ 0.22.
    CHECK(std::abs(sum_of_smallest / draws - 32.5) < 1.5);
    CHECK(std::abs(sum_of_largest / draws - (199 - 32.5)) < 1.5);
  }
  SECTION("row and column marginals of large draws") {
    // 10000 of 200000 cells (5%): Method D, then Method A for the tail. Row counts are
    // hypergeometric (mean 25); chi-square over 400 rows and over 500 columns, loose bounds.
    const int64_t in = 500, out = 400;
    std::vector<int64_t> row_counts(out, 0), col_counts(in, 0);
    for (uint64_t seed = 0; seed < 4; ++seed) {
      const Pairs pairs = require_valid(nn::random_connectivity(in, out, 10000, seed), in, out);
      REQUIRE(pairs.size() == 10000);
      for (int64_t k = 0; k < pairs.size(); ++k) {
        ++row_counts[static_cast<size_t>(pairs.rows[k])];
        ++col_counts[static_cast<size_t>(pairs.cols[k])];
      }
    }
    const double row_statistic = chi_square_uniform(row_counts), col_statistic = chi_square_uniform(col_counts);
    CHECK(row_statistic < 399 + 6 * std::sqrt(2.0 * 399));
    CHECK(row_statistic > 399 - 6 * std::sqrt(2.0 * 399));
    CHECK(col_statistic < 499 + 6 * std::sqrt(2.0 * 499));
    CHECK(col_statistic > 499 - 6 * std::sqrt(2.0 * 499));
  }
}

TEST_CASE("random_connectivity is deterministic per seed, differs across seeds, ignores the thread count",
          "[layers][connectivity]") {
  const auto first = nn::random_connectivity(784, 2000, 156800, 42).to_vector<int64_t>();
  CHECK(nn::random_connectivity(784, 2000, 156800, 42).to_vector<int64_t>() == first);
  CHECK(nn::random_connectivity(784, 2000, 156800, 43).to_vector<int64_t>() != first);
  // The default generator is not used: reseeding it changes nothing.
  manual_seed(123);
  CHECK(nn::random_connectivity(784, 2000, 156800, 42).to_vector<int64_t>() == first);
  ThreadCountGuard guard;
  set_num_threads(1);
  CHECK(nn::random_connectivity(784, 2000, 156800, 42).to_vector<int64_t>() == first);
  set_num_threads(3);
  CHECK(nn::random_connectivity(784, 2000, 156800, 42).to_vector<int64_t>() == first);
}

TEST_CASE("random_connectivity rejects counts outside [1, in · out] and bad shapes", "[layers][connectivity]") {
  WISP_REQUIRE_ERROR(nn::random_connectivity(4, 3, 0, 0), "nnz in [1, 12]", "in_features=4", "out_features=3", "got 0");
  WISP_REQUIRE_ERROR(nn::random_connectivity(4, 3, 13, 0), "nnz in [1, 12]", "got 13");
  WISP_REQUIRE_ERROR(nn::random_connectivity(4, 3, -1, 0), "nnz in [1, 12]", "got -1");
  WISP_REQUIRE_ERROR(nn::random_connectivity(0, 3, 1, 0), "positive in_features and out_features", "0 and 3");
}

// ---- small_world_connectivity ------------------------------------------------------------------

TEST_CASE("small_world_connectivity draws about nnz sorted, distinct pairs", "[layers][connectivity]") {
  struct Case {
    int64_t in, out;
    double sparsity;
  };
  const std::vector<Case> cases = {{784, 2000, 0.9}, {2000, 10, 0.9},   {10, 2000, 0.9},   {1000, 1000, 0.99},
                                   {300, 500, 0.95}, {2000, 784, 0.99}, {101, 100, 0.995}, {1, 500, 0.9},
                                   {500, 1, 0.9},    {37, 53, 0.5}};
  for (const Case& c : cases) {
    INFO("in " << c.in << ", out " << c.out << ", sparsity " << c.sparsity);
    const int64_t nnz = nn::connections_for_sparsity(c.in, c.out, c.sparsity);
    const Pairs pairs = require_valid(nn::small_world_connectivity(c.in, c.out, c.sparsity, 5), c.in, c.out);
    // The count is a sum of independent Bernoullis with mean nnz: variance below nnz.
    CHECK(std::abs(static_cast<double>(pairs.size() - nnz)) <= 5.0 * std::sqrt(static_cast<double>(nnz)) + 1.0);
  }
}

TEST_CASE("small_world_connectivity connects each pair with probability (d + 1)^-λ", "[layers][connectivity]") {
  // Empirical frequency of every pair over many seeds against P from an independent, dense solve
  // of λ: checks the distance, the λ search and the exactness of the skip-and-thin sampler. One
  // grid with out − in odd (half-integer distances), one with it even (a zero-distance diagonal).
  struct Case {
    int64_t in, out;
    double sparsity;
  };
  for (const Case& c : {Case{6, 9, 0.6}, Case{5, 7, 0.7}, Case{12, 4, 0.8}}) {
    INFO("in " << c.in << ", out " << c.out << ", sparsity " << c.sparsity);
    const int64_t nnz = nn::connections_for_sparsity(c.in, c.out, c.sparsity);
    const double lambda = dense_small_world_lambda(c.in, c.out, static_cast<double>(nnz));
    const int draws = 20000;
    std::vector<int64_t> counts(static_cast<size_t>(c.in * c.out), 0);
    for (int seed = 0; seed < draws; ++seed) {
      const Pairs pairs = require_valid(
          nn::small_world_connectivity(c.in, c.out, c.sparsity, static_cast<uint64_t>(seed)), c.in, c.out);
      for (int64_t k = 0; k < pairs.size(); ++k) ++counts[static_cast<size_t>(pairs.rows[k] * c.in + pairs.cols[k])];
    }
    for (int64_t i = 0; i < c.out; ++i) {
      for (int64_t j = 0; j < c.in; ++j) {
        const double p = std::pow(distance(i, j, c.in, c.out) + 1.0, -lambda);
        const double frequency = static_cast<double>(counts[static_cast<size_t>(i * c.in + j)]) / draws;
        INFO("pair (" << i << ", " << j << "), λ " << lambda);
        CHECK(std::abs(frequency - p) <= 5.0 * std::sqrt(p * (1.0 - p) / draws) + 1e-9);
      }
    }
  }
}

TEST_CASE("small_world_connectivity is local: mean line distance far below random connectivity's",
          "[layers][connectivity]") {
  struct Case {
    int64_t in, out;
    double sparsity, largest_ratio;
  };
  // Ratios expected from the formula: 0.21, 0.30, 0.50 and, at the notebook's 90%, 0.74.
  for (const Case& c : {Case{1000, 1000, 0.99, 0.3}, Case{2000, 2000, 0.99, 0.4}, Case{300, 500, 0.95, 0.6},
                        Case{784, 2000, 0.9, 0.8}}) {
    INFO("in " << c.in << ", out " << c.out << ", sparsity " << c.sparsity);
    const int64_t nnz = nn::connections_for_sparsity(c.in, c.out, c.sparsity);
    const Pairs small_world = require_valid(nn::small_world_connectivity(c.in, c.out, c.sparsity, 3), c.in, c.out);
    const Pairs random = require_valid(nn::random_connectivity(c.in, c.out, nnz, 3), c.in, c.out);
    const double small_world_mean = mean_distance(small_world, c.in, c.out);
    const double random_mean = mean_distance(random, c.in, c.out);
    INFO("mean distance: small-world " << small_world_mean << ", random " << random_mean);
    CHECK(small_world_mean < c.largest_ratio * random_mean);
  }
}

TEST_CASE("small_world_connectivity is deterministic per seed, differs across seeds, ignores the thread count",
          "[layers][connectivity]") {
  const auto first = nn::small_world_connectivity(784, 2000, 0.9, 11).to_vector<int64_t>();
  CHECK(nn::small_world_connectivity(784, 2000, 0.9, 11).to_vector<int64_t>() == first);
  CHECK(nn::small_world_connectivity(784, 2000, 0.9, 12).to_vector<int64_t>() != first);
  manual_seed(99);
  CHECK(nn::small_world_connectivity(784, 2000, 0.9, 11).to_vector<int64_t>() == first);
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    CHECK(nn::small_world_connectivity(784, 2000, 0.9, 11).to_vector<int64_t>() == first);
  }
}

TEST_CASE("small_world_connectivity builds the notebook's cases", "[layers][connectivity]") {
  // The seed package hangs on 784 → 2000 at 90%: Σ P(λ = 1) ≈ 10,912 < nnz = 156,800. How long
  // they take is bench/connectivity_bench's question.
  for (auto [in, out] : {std::pair<int64_t, int64_t>{784, 2000}, {2000, 10}}) {
    INFO("in " << in << ", out " << out);
    require_valid(nn::small_world_connectivity(in, out, 0.9, 0), in, out);
  }
}

TEST_CASE("small_world_connectivity edge cases: 1 × 1, sparsity 0, rows and columns", "[layers][connectivity]") {
  SECTION("1 × 1") {
    const Pairs pairs = require_valid(nn::small_world_connectivity(1, 1, 0.0, 0), 1, 1);
    CHECK(pairs.size() == 1);
    CHECK(require_valid(nn::small_world_connectivity(1, 1, 0.4, 0), 1, 1).size() == 1);
  }
  SECTION("sparsity 0 connects every pair (λ = 0)") {
    for (auto [in, out] : {std::pair<int64_t, int64_t>{3, 4}, {4, 3}, {1, 7}, {7, 1}}) {
      const Pairs pairs = require_valid(nn::small_world_connectivity(in, out, 0.0, 9), in, out);
      CHECK(pairs.size() == in * out);
    }
  }
  SECTION("a single connection requested is never an empty layer") {
    // nnz = 1 on a grid without a zero-distance pair: an independent draw is empty ~37% of the time.
    for (uint64_t seed = 0; seed < 200; ++seed) {
      const Pairs pairs = require_valid(nn::small_world_connectivity(10, 11, 0.995, seed), 10, 11);
      CHECK(pairs.size() >= 1);
    }
  }
  SECTION("exactly the zero-distance diagonal when nnz equals it") {
    // 100 × 100 at 99%: nnz = 100 = Z, the pairs at distance 0, so λ runs to the top of its range.
    const Pairs pairs = require_valid(nn::small_world_connectivity(100, 100, 0.99, 4), 100, 100);
    REQUIRE(pairs.size() == 100);
    for (int64_t k = 0; k < 100; ++k) CHECK(pairs.rows[k] == pairs.cols[k]);
  }
}

TEST_CASE("small_world_connectivity says when no λ fits", "[layers][connectivity]") {
  // λ = 0 always gives Σ P = in · out ≥ nnz; only the zero-distance pairs (P = 1 for every λ) can make
  // nnz unreachable: Z = min(in, out) when out − in is even.
  WISP_REQUIRE_ERROR(nn::small_world_connectivity(100, 100, 0.995, 0), "cannot give 50 connections", "sparsity 0.995",
                     "in_features=100", "out_features=100", "fewest it can give is 100", "sparsity at most 0.99");
  WISP_REQUIRE_ERROR(nn::small_world_connectivity(2000, 10, 0.9996, 0), "cannot give 8 connections",
                     "fewest it can give is 10");
  // With out − in odd no pair is at distance 0, so the same sparsity works.
  CHECK(require_valid(nn::small_world_connectivity(100, 101, 0.995, 0), 100, 101).size() >= 1);
  // Sparsity errors come from connections_for_sparsity.
  WISP_REQUIRE_ERROR(nn::small_world_connectivity(100, 100, 1.0, 0), "sparsity must be in [0, 1)");
  WISP_REQUIRE_ERROR(nn::small_world_connectivity(0, 100, 0.5, 0), "positive in_features and out_features");
}

// ---- coalesce_connectivity ---------------------------------------------------------------------

TEST_CASE("coalesce_connectivity sorts by (row, col) and merges duplicates", "[layers][connectivity]") {
  // Pairs (2,1) (0,3) (2,1) (1,0) (0,3) (2,2) (1,0): four distinct.
  const Tensor given = from_vector<int64_t>({2, 0, 2, 1, 0, 2, 1, 1, 3, 1, 0, 3, 2, 0}, {2, 7});
  const Tensor result = nn::coalesce_connectivity(given, 4, 3);
  CHECK(result.shape() == Shape{2, 4});
  CHECK(result.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 2, 3, 0, 1, 2});
  // The input is left alone.
  CHECK(given.to_vector<int64_t>() == std::vector<int64_t>{2, 0, 2, 1, 0, 2, 1, 1, 3, 1, 0, 3, 2, 0});
  // Already coalesced input comes back unchanged; one connection is enough.
  CHECK(nn::coalesce_connectivity(result, 4, 3).to_vector<int64_t>() == result.to_vector<int64_t>());
  CHECK(nn::coalesce_connectivity(from_vector<int64_t>({2, 3}, {2, 1}), 4, 3).to_vector<int64_t>() ==
        std::vector<int64_t>{2, 3});
}

TEST_CASE("coalesce_connectivity restores a shuffled, duplicated random connectivity", "[layers][connectivity]") {
  // The notebook's user-defined case has this shape: 784 inputs × 200 random outputs each.
  const Tensor reference = nn::random_connectivity(784, 2000, 100000, 8);
  const std::vector<int64_t> flat = reference.to_vector<int64_t>();
  const int64_t nnz = reference.size(1);
  std::vector<int64_t> order(static_cast<size_t>(nnz) * 2);
  for (size_t k = 0; k < order.size(); ++k)
    order[k] = static_cast<int64_t>(k % static_cast<size_t>(nnz));  // twice each
  for (size_t k = order.size() - 1; k > 0; --k)                     // Fisher-Yates with a fixed stream
    std::swap(order[k], order[static_cast<size_t>(bounded_from_bits(random_bits(77, k), k + 1))]);
  std::vector<int64_t> shuffled(order.size() * 2);
  for (size_t k = 0; k < order.size(); ++k) {
    shuffled[k] = flat[static_cast<size_t>(order[k])];
    shuffled[order.size() + k] = flat[static_cast<size_t>(nnz + order[k])];
  }
  const Tensor given = from_vector(shuffled, {2, static_cast<int64_t>(order.size())});
  CHECK(nn::coalesce_connectivity(given, 784, 2000).to_vector<int64_t>() == flat);
  ThreadCountGuard guard;
  set_num_threads(1);
  CHECK(nn::coalesce_connectivity(given, 784, 2000).to_vector<int64_t>() == flat);
}

TEST_CASE("coalesce_connectivity names every invalid input", "[layers][connectivity]") {
  WISP_REQUIRE_ERROR(nn::coalesce_connectivity(Tensor(), 4, 3), "undefined", "[2, nnz]");
  WISP_REQUIRE_ERROR(nn::coalesce_connectivity(zeros({2, 5}), 4, 3), "dtype int64", "float32");
  WISP_REQUIRE_ERROR(nn::coalesce_connectivity(zeros({2, 5}, DType::Int32), 4, 3), "dtype int64", "int32");
  WISP_REQUIRE_ERROR(nn::coalesce_connectivity(zeros({3, 5}, DType::Int64), 4, 3), "shape [2, nnz]", "[3, 5]");
  WISP_REQUIRE_ERROR(nn::coalesce_connectivity(zeros({10}, DType::Int64), 4, 3), "shape [2, nnz]", "[10]");
  WISP_REQUIRE_ERROR(nn::coalesce_connectivity(zeros({2, 3, 1}, DType::Int64), 4, 3), "shape [2, nnz]", "[2, 3, 1]");
  WISP_REQUIRE_ERROR(nn::coalesce_connectivity(zeros({2, 0}, DType::Int64), 4, 3), "at least one connection", "[2, 0]");
  WISP_REQUIRE_ERROR(nn::coalesce_connectivity(zeros({2, 2}, DType::Int64), 0, 3),
                     "positive in_features and out_features", "0 and 3");

  // The message of the brief, verbatim: row index 2005 at position 17 for 2000 outputs.
  std::vector<int64_t> values(2 * 20, 0);
  values[17] = 2005;
  try {
    nn::coalesce_connectivity(from_vector(values, {2, 20}), 784, 2000);
    FAIL("expected a wisp::Error");
  } catch (const Error& error) {
    CHECK(std::string(error.what()) ==
          "SparseLinear: connectivity row index 2005 at position 17 out of range [0, 2000)");
  }
  values[17] = 0;
  values[20 + 4] = 784;
  WISP_REQUIRE_ERROR(nn::coalesce_connectivity(from_vector(values, {2, 20}), 784, 2000),
                     "connectivity col index 784 at position 4 out of range [0, 784)");
  values[20 + 4] = 0;
  values[9] = -1;
  WISP_REQUIRE_ERROR(nn::coalesce_connectivity(from_vector(values, {2, 20}), 784, 2000),
                     "connectivity row index -1 at position 9 out of range [0, 2000)");
  values[9] = 0;
  values[20 + 19] = -3;
  WISP_REQUIRE_ERROR(nn::coalesce_connectivity(from_vector(values, {2, 20}), 784, 2000),
                     "connectivity col index -3 at position 19 out of range [0, 784)");
}

TEST_CASE("coalesce_connectivity of a few connections needs no memory per output feature", "[layers][connectivity]") {
  // Rows 5, 3, 5, 2^40 + 1 and cols 1, 0, 1, 2: three distinct pairs.
  const int64_t far_row = (int64_t{1} << 40) + 1;
  const Tensor given = from_vector<int64_t>({5, 3, 5, far_row, 1, 0, 1, 2}, {2, 4});
  const std::vector<int64_t> expected{3, 5, far_row, 0, 1, 2};
  CHECK(nn::coalesce_connectivity(given, 3, int64_t{1} << 41).to_vector<int64_t>() == expected);
  CHECK(nn::coalesce_connectivity(given, 3, int64_t{1} << 61).to_vector<int64_t>() == expected);
  WISP_REQUIRE_ERROR(nn::coalesce_connectivity(given, 3, int64_t{1} << 40),
                     "row index 1099511627777 at position 3 out of range [0, 1099511627776)");

  // More output features than connections, shuffled and duplicated.
  const Tensor reference = nn::random_connectivity(50, 100000, 3000, 5);
  const std::vector<int64_t> flat = reference.to_vector<int64_t>();
  const int64_t nnz = reference.size(1);
  std::vector<int64_t> rows, cols;
  for (int64_t k = 0; k < 2 * nnz; ++k) {
    const auto source =
        static_cast<size_t>(bounded_from_bits(random_bits(78, static_cast<uint64_t>(k)), static_cast<uint64_t>(nnz)));
    rows.push_back(flat[source]);
    cols.push_back(flat[static_cast<size_t>(nnz) + source]);
  }
  // Every reference pair once more, so that the result is exactly the reference.
  rows.insert(rows.end(), flat.begin(), flat.begin() + nnz);
  cols.insert(cols.end(), flat.begin() + nnz, flat.end());
  std::vector<int64_t> flat_given = rows;
  flat_given.insert(flat_given.end(), cols.begin(), cols.end());
  const Tensor given_many = from_vector(flat_given, {2, 3 * nnz});
  CHECK(nn::coalesce_connectivity(given_many, 50, 100000).to_vector<int64_t>() == flat);
}

TEST_CASE("connectivity builders refuse sizes no allocation can hold with a wisp::Error", "[layers][connectivity]") {
  // 2^60 - 1 connections of 16 bytes: a byte count that used to wrap around when aligned, leaving
  // a tensor of 2^64 - 16 bytes on a 1-byte allocation.
  WISP_REQUIRE_ERROR(nn::random_connectivity(int64_t{1} << 31, int64_t{1} << 31, (int64_t{1} << 60) - 1, 0),
                     "needs 18446744073709551600 bytes");
  WISP_REQUIRE_ERROR(nn::random_connectivity(int64_t{1} << 31, int64_t{1} << 31, int64_t{1} << 42, 0),
                     "out of CPU memory");
  // Small-world keeps a histogram of the distinct distances, about (in + out) / 2 of them. Under
  // AddressSanitizer a failed operator new is fatal whatever its options, so only plain builds check
  // that std::bad_alloc becomes a wisp::Error.
#ifndef __SANITIZE_ADDRESS__
  WISP_REQUIRE_ERROR(nn::small_world_connectivity(1, int64_t{1} << 42, 0.5, 0), "small_world_connectivity",
                     "out of memory", "distance histogram");
#endif
  WISP_REQUIRE_ERROR(nn::small_world_connectivity(1, int64_t{1} << 61, 0.5, 0), "small_world_connectivity",
                     "distance histogram", "more than the largest allocation");
  WISP_REQUIRE_ERROR(nn::small_world_connectivity(1, INT64_MAX, 0.5, 0), "small_world_connectivity",
                     "distance histogram");
  WISP_REQUIRE_ERROR(nn::small_world_connectivity(INT64_MAX, 1, 0.5, 0), "small_world_connectivity",
                     "distance histogram");
}

TEST_CASE("random_connectivity takes time in its connections, not in the rows between them", "[layers][connectivity]") {
  // Two connections among 2^62 rows: stepping from row to row would take hours.
  const int64_t rows = int64_t{1} << 62;
  const Pairs pairs = require_valid(nn::random_connectivity(1, rows, 2, 3), 1, rows);
  CHECK(pairs.size() == 2);
  CHECK(pairs.rows[1] > int64_t{1} << 40);  // far beyond 2^40 (for this seed, and almost surely for any)
}
