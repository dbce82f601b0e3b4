// nn::ActivationSparsity (k-winners) and its op k_winners / update_duty_cycle_.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <utility>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::printed;
using wisp::testing::require_close;
using wisp::testing::values;

namespace {

// The winners of one sample by the definition (DESIGN.md §7), in double precision: the k largest
// x_i · exp(beta · (k/n − duty_i)), ties to the lower index. Returned in increasing index order.
std::vector<int64_t> reference_winners(const std::vector<float>& x, const std::vector<float>& duty, int64_t k,
                                       double beta) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<std::pair<double, int64_t>> scored;
  for (int64_t i = 0; i < n; ++i)
    scored.emplace_back(static_cast<double>(x[i]) * std::exp(beta * (static_cast<double>(k) / n - duty[i])), i);
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  std::vector<int64_t> winners;
  for (int64_t j = 0; j < k; ++j) winners.push_back(scored[j].second);
  std::sort(winners.begin(), winners.end());
  return winners;
}

// Indices of the nonzero entries of row `row` of a [rows, n] float tensor.
std::vector<int64_t> nonzero_in_row(const Tensor& t, int64_t row) {
  const int64_t n = t.size(-1);
  const std::vector<float> v = values(t);
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < n; ++i)
    if (v[row * n + i] != 0.0f) indices.push_back(i);
  return indices;
}

std::vector<float> row_of(const Tensor& t, int64_t row) {
  const int64_t n = t.size(-1);
  const std::vector<float> v = values(t);
  return std::vector<float>(v.begin() + row * n, v.begin() + (row + 1) * n);
}

void require_values(const Tensor& actual, const std::vector<float>& expected, float tolerance = 1e-6f) {
  const std::vector<float> got = values(actual);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": " << got[i] << " vs " << expected[i]);
    REQUIRE(std::abs(got[i] - expected[i]) <= tolerance);
  }
}

}  // namespace

TEST_CASE("k_winners keeps exactly k values per sample: the input at the boosted top-k", "[layers][k_winners]") {
  manual_seed(10);
  const int64_t rows = 16, n = 50, k = 18;
  Tensor x = randn({rows, n});
  Tensor duty = rand({n}) * 0.6;  // non-uniform: boosting changes the ranking
  const std::vector<float> duty_values = values(duty);
  Tensor counts;
  Tensor out = k_winners(x, duty, k, 1.5, &counts);
  REQUIRE(out.shape() == x.shape());
  REQUIRE(counts.dtype() == DType::Int64);
  REQUIRE(counts.shape() == Shape{n});
  std::vector<int64_t> expected_counts(n, 0);
  int64_t rows_where_boost_matters = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const std::vector<float> input = row_of(x, r), output = row_of(out, r);
    const std::vector<int64_t> winners = nonzero_in_row(out, r);
    REQUIRE(static_cast<int64_t>(winners.size()) == k);
    REQUIRE(winners == reference_winners(input, duty_values, k, 1.5));
    for (int64_t i = 0; i < n; ++i) {
      const bool won = std::find(winners.begin(), winners.end(), i) != winners.end();
      REQUIRE(output[i] == (won ? input[i] : 0.0f));  // the original value, not the boosted one
    }
    for (int64_t i : winners) ++expected_counts[i];
    if (winners != reference_winners(input, duty_values, k, 0.0)) ++rows_where_boost_matters;
  }
  CHECK(rows_where_boost_matters > 0);
  CHECK(counts.to_vector<int64_t>() == expected_counts);
}

TEST_CASE("k_winners: boosting picks the winners, by hand", "[layers][k_winners]") {
  // n = 4, k = 2: boost = exp(1.5 · (0.5 − duty)) = [0.549, 0.549, 2.117, 2.117], so the scores
  // are [2.195, 1.646, 4.234, 2.117]: units 2 and 0 win, where plain top-k would pick 0 and 1.
  Tensor x = from_vector<float>({4, 3, 2, 1});
  Tensor duty = from_vector<float>({0.9f, 0.9f, 0.0f, 0.0f});
  require_values(k_winners(x, duty, 2, 1.5), {4, 0, 2, 0});
  require_values(k_winners(x, duty, 2, 0.0), {4, 3, 0, 0});  // beta 0: plain top-k
  require_values(k_winners(x, duty, 4, 1.5), {4, 3, 2, 1});  // k = n: the identity
  require_values(k_winners(x, duty, 1, 1.5), {0, 0, 2, 0});
}

TEST_CASE("k_winners: the gradient flows only through the winners", "[layers][k_winners]") {
  Tensor x = from_vector<float>({4, 3, 2, 1, -5, 7, 0.5f, 6}, {2, 4}).set_requires_grad(true);
  Tensor duty = from_vector<float>({0.9f, 0.9f, 0.0f, 0.0f});
  Tensor out = k_winners(x, duty, 2, 1.5);
  CHECK(out.grad_fn_name() == "KWinnersBackward");
  // Row 1 scores: [-2.74, 3.84, 1.06, 12.70]: units 3 and 1 win.
  require_values(out.detach(), {4, 0, 2, 0, 0, 7, 0, 6});
  out.backward(from_vector<float>({10, 20, 30, 40, 50, 60, 70, 80}, {2, 4}));
  require_values(x.grad(), {10, 0, 30, 0, 0, 60, 0, 80});

  NoGradGuard no_grad;
  CHECK(k_winners(x, duty, 2, 1.5).grad_fn_name().empty());
}

TEST_CASE("k_winners breaks ties by the lower index", "[layers][k_winners]") {
  Tensor uniform = full({5}, 0.4);
  Tensor ones_input = ones({5}).set_requires_grad(true);
  Tensor out = k_winners(ones_input, uniform, 2, 1.5);
  require_values(out.detach(), {1, 1, 0, 0, 0});
  require_values(k_winners(from_vector<float>({0, 2, 2, 0, 2}), uniform, 2, 1.5), {0, 2, 2, 0, 0});
  require_values(k_winners(from_vector<float>({3, 2, 2, 0, 2}), uniform, 3, 1.5), {3, 2, 2, 0, 0});
  require_values(k_winners(from_vector<float>({-1, 5, -1, -1, 5}), uniform, 3, 1.5), {-1, 5, 0, 0, 5});

  // All-zero input: the winners are the first k units, seen through the gradient (the output is 0).
  Tensor zero_input = zeros({2, 5}).set_requires_grad(true);
  Tensor zero_out = k_winners(zero_input, uniform, 2, 1.5);
  require_values(zero_out.detach(), std::vector<float>(10, 0.0f));
  zero_out.backward(ones({2, 5}));
  require_values(zero_input.grad(), {1, 1, 0, 0, 0, 1, 1, 0, 0, 0});

  // −0 and +0 are equal scores: the lower index wins.
  Tensor signed_zeros = from_vector<float>({-1.0f, -0.0f, 0.0f, -2.0f}).set_requires_grad(true);
  k_winners(signed_zeros, full({4}, 0.25), 1, 1.5).backward(ones({4}));
  require_values(signed_zeros.grad(), {0, 1, 0, 0});

  // NaN ranks below every number.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  require_values(k_winners(from_vector<float>({nan, 1, -2, 3}), full({4}, 0.5), 2, 1.5), {0, 1, 0, 3});
  // ... −inf included: a NaN at a lower index does not win a tie against it.
  const float inf = std::numeric_limits<float>::infinity();
  Tensor wins;
  const std::vector<float> with_inf =
      k_winners(from_vector<float>({nan, 1, -inf, -5}), full({4}, 0.75), 3, 0.0, &wins).to_vector<float>();
  CHECK(with_inf == std::vector<float>{0, 1, -inf, -5});
  CHECK(wins.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 1, 1});
}

TEST_CASE("k_winners matches the definition with heavy ties and extreme values", "[layers][k_winners]") {
  // Few distinct values (many ties, most of them in one bucket of the kernel's radix pass), values
  // far apart in magnitude (many buckets), infinities, and two duty-cycle levels.
  manual_seed(16);
  const int64_t rows = 6, n = 3000;
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> palette = {-3, -1, -0.0f, 0, 0.5f, 2, 1e-30f, 1e30f, -1e30f, inf, -inf};
  std::vector<float> input;
  for (int64_t v : randint(0, static_cast<int64_t>(palette.size()), {rows * n}).to_vector<int64_t>())
    input.push_back(palette[static_cast<size_t>(v)]);
  Tensor x = from_vector<float>(input, {rows, n});
  std::vector<float> levels;
  for (int64_t v : randint(0, 2, {n}).to_vector<int64_t>()) levels.push_back(v == 0 ? 0.2f : 0.5f);
  Tensor two_level_duty = from_vector<float>(levels);
  for (int64_t k : {int64_t{1}, int64_t{700}, int64_t{1500}, n - 1}) {
    for (const Tensor& duty : {full({n}, 0.4), two_level_duty}) {
      Tensor leaf = x.detach().set_requires_grad(true);
      Tensor out = k_winners(leaf, duty, k, 1.5);
      out.backward(ones({rows, n}));  // the gradient shows the winners, zeros included
      for (int64_t r = 0; r < rows; ++r) {
        INFO("k " << k << ", row " << r);
        const std::vector<int64_t> winners = nonzero_in_row(leaf.grad(), r);
        REQUIRE(static_cast<int64_t>(winners.size()) == k);
        REQUIRE(winners == reference_winners(row_of(x, r), values(duty), k, 1.5));
      }
    }
  }
}

TEST_CASE("k_winners works on 1-D, 2-D and 3-D inputs: every leading dimension is a sample", "[layers][k_winners]") {
  manual_seed(11);
  const int64_t n = 12, k = 5;
  Tensor x = randn({2, 3, n});
  Tensor duty = rand({n}) * 0.8;
  Tensor counts3, counts2;
  Tensor out3 = k_winners(x, duty, k, 1.5, &counts3);
  Tensor out2 = k_winners(x.view({6, n}), duty, k, 1.5, &counts2);
  REQUIRE(out3.shape() == Shape{2, 3, n});
  require_close(out3.view({6, n}), out2, 0.0f);
  CHECK(counts3.to_vector<int64_t>() == counts2.to_vector<int64_t>());
  int64_t total_wins = 0;
  for (int64_t c : counts3.to_vector<int64_t>()) total_wins += c;
  CHECK(total_wins == 6 * k);
  for (int64_t s = 0; s < 6; ++s) {
    Tensor sample = from_vector<float>(row_of(x.view({6, n}), s));
    Tensor out1 = k_winners(sample, duty, k, 1.5);
    REQUIRE(out1.shape() == Shape{n});
    require_values(out1, row_of(out2, s), 0.0f);
  }
}

TEST_CASE("k_winners passes the gradient checker away from ties", "[layers][k_winners]") {
  // Distinct values 0.3 apart in a random order, so that a finite-difference step (5e-3) cannot
  // change the winners.
  manual_seed(12);
  const int64_t rows = 3, n = 10, k = 4;
  std::vector<float> input;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> row(n);
    for (int64_t i = 0; i < n; ++i) row[i] = 0.3f * static_cast<float>(i) - 1.4f;
    const std::vector<int64_t> order = randint(0, 1000, {n}).to_vector<int64_t>();
    std::vector<int64_t> permutation(n);
    std::iota(permutation.begin(), permutation.end(), 0);
    std::sort(permutation.begin(), permutation.end(), [&](int64_t a, int64_t b) { return order[a] < order[b]; });
    for (int64_t i = 0; i < n; ++i) input.push_back(row[permutation[i]]);
  }
  Tensor x = from_vector<float>(input, {rows, n});
  Tensor uniform_duty = full({n}, 0.4);
  WISP_REQUIRE_GRADIENTS([&](const std::vector<Tensor>& in) { return k_winners(in[0], uniform_duty, k, 1.5); },
                         std::vector<Tensor>{x});

  // With non-uniform duty cycles, after checking that the boosted scores are well separated too.
  Tensor duty = from_vector<float>({0.35f, 0.45f, 0.4f, 0.3f, 0.5f, 0.42f, 0.38f, 0.41f, 0.36f, 0.44f});
  const std::vector<float> duty_values = values(duty);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> scores;
    for (int64_t i = 0; i < n; ++i) scores.push_back(input[r * n + i] * std::exp(1.5 * (0.4 - duty_values[i])));
    std::sort(scores.begin(), scores.end(), std::greater<double>());
    REQUIRE(scores[k - 1] - scores[k] > 0.05);
  }
  WISP_REQUIRE_GRADIENTS([&](const std::vector<Tensor>& in) { return k_winners(in[0], duty, k, 1.5); },
                         std::vector<Tensor>{x});
  // Through the module, in eval mode (training mode would move the duty cycles between the
  // checker's evaluations).
  nn::ActivationSparsity layer(nn::ActivationSparsityOptions().act_sparsity(0.6));
  layer.eval();
  WISP_REQUIRE_GRADIENTS([&](const std::vector<Tensor>& in) { return layer(in[0]); }, std::vector<Tensor>{x});
}

TEST_CASE("k_winners rejects bad arguments with clear messages", "[layers][k_winners]") {
  Tensor x = randn({2, 4});
  Tensor duty = full({4}, 0.5);
  WISP_REQUIRE_ERROR(k_winners(x, duty, 0, 1.5), "expected k in [1, 4]", "got 0");
  WISP_REQUIRE_ERROR(k_winners(x, duty, 5, 1.5), "expected k in [1, 4]", "got 5");
  WISP_REQUIRE_ERROR(k_winners(x, full({3}, 0.5), 2, 1.5), "duty cycle of shape [4]", "got [3]");
  WISP_REQUIRE_ERROR(k_winners(x, duty, 2, -1.0), "beta >= 0", "-1");
  WISP_REQUIRE_ERROR(k_winners(x, duty, 2, std::nan("")), "beta >= 0", "nan");
  WISP_REQUIRE_ERROR(k_winners(zeros({2, 4}, DType::Int64), duty, 2, 1.5), "k_winners", "float32", "int64");
  WISP_REQUIRE_ERROR(k_winners(x, zeros({4}, DType::Int64), 2, 1.5), "duty_cycle", "float32", "int64");
  WISP_REQUIRE_ERROR(k_winners(zeros(Shape{}), full({1}, 0.5), 1, 1.5), "at least one dimension", "[]");

  Tensor counts = zeros({4}, DType::Int64);
  WISP_REQUIRE_ERROR(update_duty_cycle_(duty, counts, 0, 0.1), "positive number of samples", "got 0");
  WISP_REQUIRE_ERROR(update_duty_cycle_(duty, counts, 2, 0.0), "alpha in (0, 1]", "got 0");
  WISP_REQUIRE_ERROR(update_duty_cycle_(duty, zeros({3}, DType::Int64), 2, 0.1), "win counts of shape [4]", "[3]");
  WISP_REQUIRE_ERROR(update_duty_cycle_(duty, zeros({4}), 2, 0.1), "win_counts", "int64", "float32");
  Tensor trainable_duty = full({4}, 0.5).set_requires_grad(true);
  WISP_REQUIRE_ERROR(update_duty_cycle_(trainable_duty, counts, 2, 0.1), "requires grad");
}

TEST_CASE("k_winners gives the same results for every thread count", "[layers][k_winners]") {
  manual_seed(13);
  const int64_t rows = 64, n = 2000, k = 700;
  Tensor x = randn({rows, n});
  Tensor duty = rand({n}) * 0.7;
  const int previous = get_num_threads();
  std::vector<float> reference_out;
  std::vector<int64_t> reference_counts;
  for (int threads : {1, 2, 3, 4}) {
    set_num_threads(threads);
    Tensor counts;
    Tensor out = k_winners(x, duty, k, 1.5, &counts);
    if (reference_out.empty()) {
      reference_out = values(out);
      reference_counts = counts.to_vector<int64_t>();
    } else {
      INFO("threads " << threads);
      CHECK(values(out) == reference_out);
      CHECK(counts.to_vector<int64_t>() == reference_counts);
    }
  }
  set_num_threads(previous);
  // Spot-check against the definition.
  for (int64_t r : {0, 31, 63})
    CHECK(nonzero_in_row(from_vector<float>(reference_out, {rows, n}), r) ==
          reference_winners(row_of(x, r), values(duty), k, 1.5));
}

TEST_CASE("ActivationSparsity: k, initial duty cycles, and printing", "[layers][activation_sparsity]") {
  nn::ActivationSparsity layer;
  CHECK(layer.options().act_sparsity() == 0.65);
  CHECK(layer.options().alpha() == 0.1);
  CHECK(layer.options().beta() == 1.5);
  CHECK_FALSE(layer.options().units().has_value());
  CHECK(layer.k(2000) == 700);
  CHECK(layer.k(20) == 7);
  CHECK(layer.k(3) == 1);  // round(1.05)
  CHECK_FALSE(layer.duty_cycle().defined());
  CHECK(layer.buffers().empty());
  CHECK(printed(layer) == "ActivationSparsity(act_sparsity=0.65, alpha=0.1, beta=1.5)");
  CHECK(printed(nn::ActivationSparsity(nn::ActivationSparsityOptions().act_sparsity(0.9).alpha(0.25).beta(2))) ==
        "ActivationSparsity(act_sparsity=0.9, alpha=0.25, beta=2)");

  // First forward: the buffer appears with k/n in every unit (initial boost exp(0) = 1).
  layer.eval();
  Tensor x = randn({3, 2000});
  layer(x);
  REQUIRE(layer.duty_cycle().defined());
  CHECK(layer.duty_cycle().shape() == Shape{2000});
  for (float d : values(layer.duty_cycle())) REQUIRE(d == static_cast<float>(0.35));
  const auto named = layer.named_buffers();
  REQUIRE(named.size() == 1);
  CHECK(named[0].first == "duty_cycle");
  CHECK(named[0].second.impl() == layer.duty_cycle().impl());
  CHECK(layer.parameters().empty());

  // units(n) creates it at construction.
  nn::ActivationSparsity sized(nn::ActivationSparsityOptions().units(2000));
  REQUIRE(sized.duty_cycle().defined());
  CHECK(sized.duty_cycle().shape() == Shape{2000});
  CHECK(printed(sized) == "ActivationSparsity(act_sparsity=0.65, alpha=0.1, beta=1.5, units=2000)");
}

TEST_CASE("ActivationSparsity: duty cycles after known batches, by hand", "[layers][activation_sparsity]") {
  // n = 4, act_sparsity 0.5: k = 2, duty cycles start at 0.5, alpha 0.1, beta 1.5.
  nn::ActivationSparsity layer(nn::ActivationSparsityOptions().act_sparsity(0.5).alpha(0.1).beta(1.5));

  // Batch 1 (boost 1 everywhere): both samples pick units 0 and 1, so the fractions of wins are
  // [1, 1, 0, 0] — fractions, not the counts [2, 2, 0, 0] (the seed's bug) — and
  // duty = 0.9 · 0.5 + 0.1 · [1, 1, 0, 0] = [0.55, 0.55, 0.45, 0.45].
  Tensor out = layer(from_vector<float>({4, 3, 2, 1, 5, 6, 1, 0}, {2, 4}));
  require_values(out.detach(), {4, 3, 0, 0, 5, 6, 0, 0});
  require_values(layer.duty_cycle(), {0.55f, 0.55f, 0.45f, 0.45f});

  // Batch 2, one sample [1, 1.05, 1, 0.9]: boosts exp(∓0.075) = [0.928, 0.928, 1.078, 1.078] give
  // scores [0.928, 0.974, 1.078, 0.970]: units 2 and 1 win (plain top-k: 1 and 0).
  // duty = 0.9 · [0.55, 0.55, 0.45, 0.45] + 0.1 · [0, 1, 1, 0] = [0.495, 0.595, 0.505, 0.405].
  out = layer(from_vector<float>({1, 1.05f, 1, 0.9f}, {1, 4}));
  require_values(out.detach(), {0, 1.05f, 1, 0});
  require_values(layer.duty_cycle(), {0.495f, 0.595f, 0.505f, 0.405f});

  // A 1-D input is one sample; a 3-D one has 2 · 2 = 4 samples.
  // Scores of [2, 2, 2, 2]: boosts exp(1.5 · (0.5 − duty)) = [1.008, 0.867, 0.993, 1.153]: units 3, 0.
  out = layer(from_vector<float>({2, 2, 2, 2}));
  require_values(out.detach(), {2, 0, 0, 2});
  require_values(layer.duty_cycle(), {0.5455f, 0.5355f, 0.4545f, 0.4645f});
  // Four samples with large, well-separated values: winners by value (boosts are within 0.93..1.07).
  out = layer(from_vector<float>({10, 20, 1, 2,   // 1, 0
                                  1, 2, 10, 20,   // 3, 2
                                  20, 1, 10, 2,   // 0, 2
                                  1, 20, 2, 10},  // 1, 3
                                 {2, 2, 4}));
  require_values(out.detach(), {10, 20, 0, 0, 0, 0, 10, 20, 20, 0, 10, 0, 0, 20, 0, 10});
  // wins [2, 2, 2, 2] of 4 samples: fractions 0.5.
  require_values(layer.duty_cycle(),
                 {0.9f * 0.5455f + 0.05f, 0.9f * 0.5355f + 0.05f, 0.9f * 0.4545f + 0.05f, 0.9f * 0.4645f + 0.05f});
  // Every sample has exactly k winners, so Σ duty stays k = 2.
  CHECK(layer.duty_cycle().sum().item<float>() == Approx(2.0f).epsilon(1e-6));
}

TEST_CASE("ActivationSparsity: boosting rotates habitual winners out", "[layers][activation_sparsity]") {
  // The same input every batch; alpha 0.5 so the duty cycles move fast. Batch 1 picks 0 and 1
  // (duty → [0.75, 0.75, 0.25, 0.25]); then the boosts exp(1.5 · ∓0.25) = [0.687, 0.687, 1.455,
  // 1.455] make the scores [0.756, 0.687, 1.310, 1.164], so units 2 and 3 win batch 2.
  nn::ActivationSparsity layer(nn::ActivationSparsityOptions().act_sparsity(0.5).alpha(0.5));
  Tensor x = from_vector<float>({1.1f, 1.0f, 0.9f, 0.8f}, {1, 4});
  require_values(layer(x).detach(), {1.1f, 1.0f, 0, 0});
  require_values(layer.duty_cycle(), {0.75f, 0.75f, 0.25f, 0.25f});
  require_values(layer(x).detach(), {0, 0, 0.9f, 0.8f});
  require_values(layer.duty_cycle(), {0.375f, 0.375f, 0.625f, 0.625f});

  // Backward uses the winners of its own forward, although the duty cycles have moved since
  // (the tape entry saves the mask, not the duty cycles): batch 3 picks 0 and 1 again.
  Tensor leaf = x.detach().set_requires_grad(true);
  Tensor out = layer(leaf);
  require_values(out.detach(), {1.1f, 1.0f, 0, 0});
  require_values(layer(x).detach(), {0, 0, 0.9f, 0.8f});  // moves the duty cycles again
  out.backward(ones({1, 4}));
  require_values(leaf.grad(), {1, 1, 0, 0});

  // An empty batch selects nothing and leaves the duty cycles alone.
  const std::vector<float> duty_before = values(layer.duty_cycle());
  Tensor empty_out = layer(zeros({0, 4}));
  CHECK(empty_out.shape() == Shape{0, 4});
  CHECK(values(layer.duty_cycle()) == duty_before);
}

TEST_CASE("ActivationSparsity: eval neither updates the duty cycles nor drops the boost",
          "[layers][activation_sparsity]") {
  nn::ActivationSparsity layer(nn::ActivationSparsityOptions().act_sparsity(0.5).units(4));
  layer.duty_cycle().copy_(from_vector<float>({0.9f, 0.9f, 0.0f, 0.0f}));
  layer.eval();
  CHECK_FALSE(layer.is_training());
  Tensor x = from_vector<float>({4, 3, 2, 1, 4, 3, 2, 1}, {2, 4});
  for (int repeat = 0; repeat < 3; ++repeat) {
    require_values(layer(x), {4, 0, 2, 0, 4, 0, 2, 0});  // the boosted ranking, as in training
    require_values(layer.duty_cycle(), {0.9f, 0.9f, 0.0f, 0.0f}, 0.0f);
  }
  {
    NoGradGuard no_grad;  // no-grad alone does not stop the update: only eval() does
    layer.train();
    layer(x);
    require_values(layer.duty_cycle(), {0.9f * 0.9f + 0.1f, 0.9f * 0.9f, 0.1f, 0.0f});
  }
}

TEST_CASE("ActivationSparsity: k_inference_factor widens evaluation, relu zeroes negative winners",
          "[layers][activation_sparsity]") {
  // n = 6, act_sparsity 0.5: k = 3 in training; factor 1.5 -> round(4.5) = 5 in evaluation (llround: 5).
  nn::ActivationSparsity layer(nn::ActivationSparsityOptions().act_sparsity(0.5).beta(0).k_inference_factor(1.5));
  const Tensor x = from_vector<float>({6, 5, 4, 3, 2, 1}, {1, 6});
  require_values(layer(x), {6, 5, 4, 0, 0, 0});
  layer.eval();
  CHECK(layer.k_inference(6) == 5);
  require_values(layer(x), {6, 5, 4, 3, 2, 0});
  CHECK(
      nn::ActivationSparsity(nn::ActivationSparsityOptions().act_sparsity(0.5).k_inference_factor(10)).k_inference(6) ==
      6);  // at most n
  CHECK(nn::ActivationSparsity(nn::ActivationSparsityOptions().act_sparsity(0.5).k_inference_factor(0.01))
            .k_inference(6) == 1);  // at least 1

  nn::ActivationSparsity with_relu(nn::ActivationSparsityOptions().act_sparsity(0.5).beta(0).relu(true));
  const Tensor y = from_vector<float>({-1, -2, 3, -4, -5, -6}, {1, 6}).set_requires_grad(true);
  const Tensor out = with_relu(y);
  require_values(out, {0, 0, 3, 0, 0, 0});  // winners -1, -2, 3; the negative ones become 0
  out.sum().backward();
  require_values(y.grad(), {0, 0, 1, 0, 0, 0});
  require_values(nn::ActivationSparsity(nn::ActivationSparsityOptions().act_sparsity(0.5).beta(0))(y.detach()),
                 {-1, -2, 3, 0, 0, 0});  // the default keeps them, as the seed
  CHECK(printed(layer) == "ActivationSparsity(act_sparsity=0.5, alpha=0.1, beta=0, k_inference_factor=1.5)");
  CHECK(printed(with_relu) == "ActivationSparsity(act_sparsity=0.5, alpha=0.1, beta=0, relu=true)");
}

TEST_CASE("ActivationSparsity: the duty cycle is a buffer that to() keeps", "[layers][activation_sparsity]") {
  manual_seed(14);
  nn::Sequential model(nn::Linear(6, 8), nn::ActivationSparsity());
  model(randn({5, 6}));
  const auto buffers = model.named_buffers();
  REQUIRE(buffers.size() == 1);
  CHECK(buffers[0].first == "1.duty_cycle");
  auto& layer = model.at<nn::ActivationSparsity>(1);
  CHECK(buffers[0].second.impl() == layer.duty_cycle().impl());
  const std::vector<float> before = values(layer.duty_cycle());
  const auto impl_before = layer.duty_cycle().impl();
  model.to(Device::cpu());
  CHECK(layer.duty_cycle().impl() == impl_before);
  CHECK(layer.duty_cycle().device() == Device::cpu());
  CHECK(values(layer.duty_cycle()) == before);
  CHECK(values(model.buffers()[0]) == before);
  // Duty cycles are fractions in [0, 1] that sum to k.
  for (float d : before) {
    REQUIRE(d >= 0.0f);
    REQUIRE(d <= 1.0f);
  }
  CHECK(std::accumulate(before.begin(), before.end(), 0.0) == Approx(static_cast<double>(layer.k(8))).epsilon(1e-5));
}

TEST_CASE("ActivationSparsity rejects bad options and inputs with clear messages", "[layers][activation_sparsity]") {
  using Options = nn::ActivationSparsityOptions;
  WISP_REQUIRE_ERROR(nn::ActivationSparsity(Options().act_sparsity(-0.1)), "act_sparsity in [0, 1)", "-0.1");
  WISP_REQUIRE_ERROR(nn::ActivationSparsity(Options().act_sparsity(1.0)), "act_sparsity in [0, 1)", "got 1");
  WISP_REQUIRE_ERROR(nn::ActivationSparsity(Options().alpha(0.0)), "alpha in (0, 1]", "got 0");
  WISP_REQUIRE_ERROR(nn::ActivationSparsity(Options().alpha(1.5)), "alpha in (0, 1]", "1.5");
  WISP_REQUIRE_ERROR(nn::ActivationSparsity(Options().beta(-1)), "beta >= 0", "-1");
  WISP_REQUIRE_ERROR(nn::ActivationSparsity(Options().beta(std::numeric_limits<double>::infinity())), "beta >= 0",
                     "inf");
  WISP_REQUIRE_ERROR(nn::ActivationSparsity(Options().units(0)), "units > 0", "got 0");
  WISP_REQUIRE_ERROR(nn::ActivationSparsity(Options().k_inference_factor(0)), "finite k_inference_factor > 0", "got 0");
  WISP_REQUIRE_ERROR(nn::ActivationSparsity(Options().k_inference_factor(std::nan(""))),
                     "finite k_inference_factor > 0", "nan");
  WISP_REQUIRE_ERROR(nn::ActivationSparsity(Options().act_sparsity(0.9).units(2)), "n = 2", "act_sparsity = 0.9",
                     "at least 1");

  nn::ActivationSparsity sparse(Options().act_sparsity(0.9));
  WISP_REQUIRE_ERROR(sparse(randn({3, 2})), "k = round((1 - act_sparsity) * n) = 0", "n = 2", "act_sparsity = 0.9");
  WISP_REQUIRE_ERROR(sparse.k(4), "= 0", "n = 4");
  WISP_REQUIRE_ERROR(nn::ActivationSparsity().k(1), "= 0 for n = 1 units and act_sparsity = 0.65");

  nn::ActivationSparsity layer;
  layer(randn({2, 2000}));
  WISP_REQUIRE_ERROR(layer(randn({2, 1999})),
                     "ActivationSparsity: expected 2000 units (the size of its duty cycle) but the input's last "
                     "dimension is 1999");
  WISP_REQUIRE_ERROR(layer(zeros({2, 2000}, DType::Int64)), "ActivationSparsity", "float32", "int64");
  nn::ActivationSparsity fresh;
  WISP_REQUIRE_ERROR(fresh(zeros(Shape{})), "at least one dimension", "[]");
  CHECK_FALSE(fresh.duty_cycle().defined());
}

TEST_CASE("ActivationSparsity trains: the notebook's dense model with k-winners", "[layers][activation_sparsity]") {
  manual_seed(15);
  nn::Sequential model(nn::Flatten(), nn::Linear(784, 2000), nn::LayerNorm(2000), nn::ActivationSparsity(),
                       nn::Linear(2000, 10));
  optim::SGD optimizer(model.parameters(), optim::SGDOptions(5e-3).momentum(0.9));
  Tensor images = randn({64, 1, 28, 28});
  Tensor labels = randint(0, 10, {64});
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 30; ++step) {
    optimizer.zero_grad();
    Tensor hidden = (*model[3])((*model[2])((*model[1])((*model[0])(images))));
    // Exactly k = 700 active units per sample (LayerNorm's outputs are nonzero).
    if (step == 0)
      for (int64_t r = 0; r < 64; r += 21) REQUIRE(nonzero_in_row(hidden.detach(), r).size() == 700);
    Tensor loss = cross_entropy((*model[4])(hidden), labels);
    loss.backward();
    optimizer.step();
    if (step == 0) first_loss = loss.item<double>();
    last_loss = loss.item<double>();
  }
  INFO("loss " << first_loss << " -> " << last_loss);
  CHECK(last_loss < 0.5 * first_loss);
  const auto& layer = model.at<nn::ActivationSparsity>(3);
  CHECK(layer.duty_cycle().sum().item<float>() == Approx(700.0f).epsilon(1e-4));
  CHECK(printed(*model[3]) == "ActivationSparsity(act_sparsity=0.65, alpha=0.1, beta=1.5)");
}
