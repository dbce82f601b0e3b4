// RigL (layers/rigl.h, kernels/rigl.h, nn::SparseLinear with dynamic(true)): the schedule, each
// piece against a brute-force dense reference (drop, tiled top-k grow, rewiring), whole updates
// (connections, values, companions), and the layer driven by an optimizer: update steps, momentum
// moved with its connection, evaluation not counted, gradient accumulation, training.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <vector>

#include "test_helpers.h"
#include "wisp/kernels/rigl.h"

using namespace wisp;
using wisp::testing::printed;
using wisp::testing::values;

namespace {

// Positions o · in + i of a connectivity Int64 [2, nnz], in order.
std::vector<int64_t> positions_of(const Tensor& indices, int64_t in) {
  const std::vector<int64_t> index = indices.to_vector<int64_t>();
  const size_t nnz = index.size() / 2;
  std::vector<int64_t> positions(nnz);
  for (size_t k = 0; k < nnz; ++k) positions[k] = index[k] * in + index[nnz + k];
  return positions;
}

// The order among equal magnitudes: the lower tie rank, then the lower index.
bool tie_before(int64_t a, int64_t b, uint64_t seed) {
  const uint64_t rank_a = kernels::rigl_tie_rank(a, seed), rank_b = kernels::rigl_tie_rank(b, seed);
  return rank_a != rank_b ? rank_a < rank_b : a < b;
}

// The reference drop: indices of the `count` smallest |v|, ties by tie rank (a full sort).
std::set<int64_t> reference_drop(const std::vector<float>& v, int64_t count, uint64_t seed = 0) {
  std::vector<int64_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const float magnitude_a = std::fabs(v[static_cast<size_t>(a)]), magnitude_b = std::fabs(v[static_cast<size_t>(b)]);
    return magnitude_a != magnitude_b ? magnitude_a < magnitude_b : tie_before(a, b, seed);
  });
  return std::set<int64_t>(order.begin(), order.begin() + count);
}

// The dense gradient G [out, in] = gᵀ x of g [rows, out] and x [rows, in], by brute force in the
// same float arithmetic as a GEMM would not guarantee: computed in double, then rounded.
std::vector<float> dense_gradient(const Tensor& grad_output, const Tensor& input) {
  const int64_t rows = grad_output.size(0), out = grad_output.size(1), in = input.size(1);
  const std::vector<float> g = values(grad_output), x = values(input);
  std::vector<float> result(static_cast<size_t>(out * in));
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) {
      double sum = 0;
      for (int64_t r = 0; r < rows; ++r) sum += double(g[size_t(r * out + o)]) * double(x[size_t(r * in + i)]);
      result[size_t(o * in + i)] = static_cast<float>(sum);
    }
  return result;
}

// The reference grow: every position outside `kept` sorted by |G| descending, ties by tie rank,
// the first `count`, in increasing order. The kernel sums in another order than the reference, so
// tests use data without near-ties: small integers (exact, with real ties) or random floats.
std::vector<int64_t> reference_grow(const std::vector<float>& dense, const std::set<int64_t>& kept, int64_t count,
                                    uint64_t seed = 0) {
  std::vector<int64_t> candidates;
  for (int64_t p = 0; p < static_cast<int64_t>(dense.size()); ++p)
    if (!kept.count(p)) candidates.push_back(p);
  std::sort(candidates.begin(), candidates.end(), [&](int64_t a, int64_t b) {
    const float magnitude_a = std::fabs(dense[size_t(a)]), magnitude_b = std::fabs(dense[size_t(b)]);
    return magnitude_a != magnitude_b ? magnitude_a > magnitude_b : tie_before(a, b, seed);
  });
  std::vector<int64_t> chosen(candidates.begin(), candidates.begin() + count);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

// A random batch whose dense gradient has well separated magnitudes: small integers make every
// G[o, i] an exact integer in float, so the GEMM and the reference agree exactly and ties are real
// ties (broken by position on both sides).
Tensor small_integers(const Shape& shape) { return randint(-3, 4, shape, DType::Int64).to(DType::Float32); }

std::vector<int64_t> as_vector(const Tensor& t) { return t.to_vector<int64_t>(); }

// The set of positions of a SparseLinear's connections.
std::set<int64_t> connection_set(const nn::SparseLinear& layer) {
  const std::vector<int64_t> p = positions_of(layer.weight().indices(), layer.in_features());
  return std::set<int64_t>(p.begin(), p.end());
}

}  // namespace

// ---- schedule -------------------------------------------------------------------------------------------

TEST_CASE("RigL schedule: cosine decay of the drop fraction and update steps", "[rigl]") {
  CHECK(nn::rigl_drop_fraction(0, 0.3, 1000) == Approx(0.3));
  CHECK(nn::rigl_drop_fraction(500, 0.3, 1000) == Approx(0.15));
  CHECK(nn::rigl_drop_fraction(250, 0.3, 1000) == Approx(0.15 * (1 + std::cos(M_PI / 4))));
  CHECK(nn::rigl_drop_fraction(1000, 0.3, 1000) == Approx(0.0).margin(1e-12));
  CHECK(nn::rigl_drop_fraction(5000, 0.3, 1000) == Approx(0.0).margin(1e-12));
  CHECK(nn::rigl_drop_fraction(10, 0.3, 0) == 0.0);
  CHECK_FALSE(nn::rigl_updates_at(0, 100, 1000));
  CHECK_FALSE(nn::rigl_updates_at(99, 100, 1000));
  CHECK(nn::rigl_updates_at(100, 100, 1000));
  CHECK(nn::rigl_updates_at(1000, 100, 1000));
  CHECK_FALSE(nn::rigl_updates_at(1100, 100, 1000));
  CHECK_FALSE(nn::rigl_updates_at(150, 100, 1000));
}

// ---- kernels against brute force ----------------------------------------------------------------------------

TEST_CASE("smallest_magnitude_mask: the count smallest magnitudes, ties by tie rank", "[rigl]") {
  const auto dropped = [](const Tensor& v, int64_t count, uint64_t seed) {
    const std::vector<uint8_t> mask = kernels::smallest_magnitude_mask(v, count, seed).to_vector<uint8_t>();
    std::set<int64_t> indices;
    for (size_t k = 0; k < mask.size(); ++k)
      if (mask[k]) indices.insert(static_cast<int64_t>(k));
    return indices;
  };
  const Tensor v = from_vector<float>({0.5f, -0.1f, 0.2f, -0.2f, 0.1f, 0.0f, 3.0f, -0.2f});
  CHECK(dropped(v, 0, 0).empty());
  CHECK(dropped(v, 3, 0) == std::set<int64_t>{1, 4, 5});
  // |0.2| three times (indices 2, 3, 7): two of them go, chosen by tie rank.
  for (uint64_t seed : {0ull, 1ull, 99ull}) {
    const std::set<int64_t> five = dropped(v, 5, seed);
    CHECK(five == reference_drop(values(v), 5, seed));
    CHECK(five.count(1) + five.count(4) + five.count(5) == 3);
  }
  CHECK(dropped(v, 8, 0).size() == 8);
  // Many equal magnitudes (zeros): the choice among them is spread, not the lowest indices.
  std::vector<float> zeros_and_ones(1000, 0.0f);
  for (size_t k = 500; k < 1000; ++k) zeros_and_ones[k] = 1.0f;
  const std::set<int64_t> half = dropped(from_vector(zeros_and_ones), 250, 7);
  CHECK(half == reference_drop(zeros_and_ones, 250, 7));
  CHECK(*half.rbegin() > 400);  // lowest-index ties would have stopped at 249

  manual_seed(3);
  const Tensor random = randn({1000});
  for (int64_t count : {1, 17, 500, 999}) CHECK(dropped(random, count, 5) == reference_drop(values(random), count, 5));
  WISP_REQUIRE_ERROR(kernels::smallest_magnitude_mask(random, 1001), "expected a count in [0, 1000] but got 1001");
}

TEST_CASE("largest_absent_gradients: tiled running top-k equals the full dense top-k", "[rigl]") {
  manual_seed(5);
  const auto [in, out, rows, sparsity] = GENERATE(table<int64_t, int64_t, int64_t, double>(
      {{13, 17, 8, 0.7}, {40, 9, 3, 0.5}, {7, 50, 64, 0.9}, {100, 30, 1, 0.95}, {33, 33, 70, 0.0}}));
  nn::SparseLinear layer(in, out, nn::SparseLinearOptions().sparsity(sparsity));
  const int64_t nnz = layer.nnz();
  const Tensor g = small_integers({rows, out}), x = small_integers({rows, in});
  const std::vector<float> dense = dense_gradient(g, x);
  // Keep a random half of the connections; the others compete with the absent positions.
  const std::vector<int64_t> position = positions_of(layer.weight().indices(), in);
  std::vector<uint8_t> drop(static_cast<size_t>(nnz));
  std::set<int64_t> kept;
  for (int64_t k = 0; k < nnz; ++k) {
    drop[size_t(k)] = static_cast<uint8_t>(k % 2 == 0);
    if (k % 2) kept.insert(position[size_t(k)]);
  }
  const Tensor drop_mask = from_vector(drop, {nnz});
  const int64_t absent = in * out - static_cast<int64_t>(kept.size());
  for (int64_t count : {int64_t(0), int64_t(1), int64_t(5), nnz / 2, absent}) {
    for (uint64_t seed : {0ull, 31ull}) {
      const std::vector<int64_t> expected = reference_grow(dense, kept, count, seed);
      for (int64_t tile : {int64_t(0), int64_t(1), int64_t(7), in * 3, in * out}) {
        INFO("count " << count << ", seed " << seed << ", tile_elements " << tile);
        const Tensor grown = kernels::largest_absent_gradients(g, x, layer.structure(), drop_mask, count, seed, tile);
        CHECK(as_vector(grown) == expected);
      }
    }
  }
  WISP_REQUIRE_ERROR(kernels::largest_absent_gradients(g, x, layer.structure(), drop_mask, absent + 1),
                     "(the positions not kept) but got");
  WISP_REQUIRE_ERROR(kernels::largest_absent_gradients(zeros({rows, out + 1}), x, layer.structure(), drop_mask, 1),
                     "expected grad_output of shape [rows, " + std::to_string(out) + "]");
}

TEST_CASE("largest_absent_gradients: exact on real-valued gradients at several scales", "[rigl]") {
  // Random floats, unlike small integers, are not exact in bf16: where the kernel screens with bf16
  // products (AVX512-BF16 machines) its rescoring must still give the exact top-k. Gaps between
  // neighbouring magnitudes here are far above float rounding, so the double reference decides.
  manual_seed(9);
  const auto [in, out, rows, scale] = GENERATE(table<int64_t, int64_t, int64_t, float>(
      {{300, 200, 64, 1.0f}, {97, 131, 7, 1e-3f}, {64, 500, 33, 1e3f}, {2000, 50, 2, 1.0f}}));
  nn::SparseLinear layer(in, out, nn::SparseLinearOptions().sparsity(0.9));
  const Tensor g = randn({rows, out}) * scale, x = randn({rows, in}) * scale;
  const Tensor none_dropped = zeros({layer.nnz()}, DType::UInt8);
  const std::set<int64_t> kept = connection_set(layer);
  const std::vector<float> dense = dense_gradient(g, x);
  for (int64_t count : {int64_t(1), int64_t(100), layer.nnz() / 3}) {
    INFO("count " << count);
    CHECK(as_vector(kernels::largest_absent_gradients(g, x, layer.structure(), none_dropped, count)) ==
          reference_grow(dense, kept, count));
  }
}

TEST_CASE("largest_absent_gradients: positions with a NaN gradient never grow", "[rigl]") {
  manual_seed(10);
  nn::SparseLinear layer(20, 30, nn::SparseLinearOptions().sparsity(0.8));
  const Tensor none_dropped = zeros({layer.nnz()}, DType::UInt8);
  Tensor x = small_integers({5, 20});
  x.data<float>()[3] = std::nanf("");  // input 3 of the first sample: every G[o, 3] is NaN
  const Tensor g = small_integers({5, 30});
  std::set<int64_t> excluded = connection_set(layer);
  for (int64_t o = 0; o < 30; ++o) excluded.insert(o * 20 + 3);
  const int64_t count = 200;
  CHECK(as_vector(kernels::largest_absent_gradients(g, x, layer.structure(), none_dropped, count)) ==
        reference_grow(dense_gradient(g, x), excluded, count));
  // More positions asked for than have a gradient that is not NaN: an error, not a read past the end.
  const int64_t finite = 20 * 30 - static_cast<int64_t>(excluded.size());
  CHECK(as_vector(kernels::largest_absent_gradients(g, x, layer.structure(), none_dropped, finite)).size() ==
        static_cast<size_t>(finite));
  WISP_REQUIRE_ERROR(kernels::largest_absent_gradients(g, x, layer.structure(), none_dropped, finite + 1),
                     "expected at most " + std::to_string(finite), "not NaN");
}

TEST_CASE("largest_absent_gradients: exact for magnitudes bf16 cannot screen", "[rigl]") {
  // CPUs with AVX512-BF16 screen candidates with bf16 products and a relative error bound; bf16
  // flushes values below FLT_MIN to 0 and rounds values near FLT_MAX to infinity, where the bound
  // does not hold. Such inputs must give the exact top-k all the same.
  const Tensor one_kept = from_vector(std::vector<int64_t>{1, 31}, {2, 1});  // the connection (1, 31)
  const kernels::SparseStructure structure = kernels::make_sparse_structure(one_kept, 2, 32);
  const Tensor none_dropped = zeros({1}, DType::UInt8);
  {
    // A denormal gradient: G[1, 0] = 1e-39 · 1e12 = 1e-27 is the second largest (G[0, 0] = 1e-23,
    // G[0, i] = 1e-28, G[1, i] = 1e-32 elsewhere).
    std::vector<float> x(32, 1e7f);
    x[0] = 1e12f;
    const Tensor g = from_vector(std::vector<float>{1e-35f, 1e-39f}, {1, 2});
    CHECK(as_vector(kernels::largest_absent_gradients(g, from_vector(x, {1, 32}), structure, none_dropped, 2)) ==
          std::vector<int64_t>{0, 32});
  }
  {
    // A column norm above FLT_MAX next to a dead output unit (g = 0): every G[0, i] is 0, and all
    // 63 absent positions are finite candidates.
    std::vector<float> x(2 * 32, 1.0f);
    x[0] = x[32] = 3.0e38f;
    const Tensor g = from_vector(std::vector<float>{0, 1, 0, 1}, {2, 2});
    const Tensor x_tensor = from_vector(x, {2, 32});
    const std::set<int64_t> kept{1 * 32 + 31};
    const std::vector<float> dense = dense_gradient(g, x_tensor);
    for (const int64_t count : {62, 63})
      CHECK(as_vector(kernels::largest_absent_gradients(g, x_tensor, structure, none_dropped, count)) ==
            reference_grow(dense, kept, count));
  }
}

TEST_CASE("largest_absent_gradients: all-equal gradients are spread by tie rank", "[rigl]") {
  manual_seed(6);
  nn::SparseLinear layer(60, 50, nn::SparseLinearOptions().sparsity(0.5));
  const Tensor none_dropped = zeros({layer.nnz()}, DType::UInt8);
  const std::set<int64_t> kept = connection_set(layer);
  // Zero input: G = 0 everywhere, every free position ties.
  const std::vector<float> dense(60 * 50, 0.0f);
  for (uint64_t seed : {0ull, 4ull}) {
    const Tensor grown = kernels::largest_absent_gradients(randn({4, 50}), zeros({4, 60}), layer.structure(),
                                                           none_dropped, 40, seed, 100);
    CHECK(as_vector(grown) == reference_grow(dense, kept, 40, seed));
    CHECK(as_vector(grown).back() > 1000);  // lowest positions would all lie in the first rows
  }
}

TEST_CASE("largest_absent_gradients: exact when the sampled rows mislead the admission floor", "[rigl]") {
  // The kernel estimates its admission floor from a strided sample of G's rows: about 2^21 entries,
  // here every 2nd row of 4096 x 1024. Exactly those rows get gradients 1000x larger, so the floor
  // is far above the count-th best overall, fewer than count candidates reach it, and the kernel
  // must fall back to a pass without a floor.
  manual_seed(8);
  const int64_t in = 1024, out = 4096, rows = 4;
  nn::SparseLinear layer(in, out, nn::SparseLinearOptions().sparsity(0.99));
  Tensor g = small_integers({rows, out});
  {
    float* data = g.data<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; o += 2) data[r * out + o] *= 1000.0f;
  }
  const Tensor x = small_integers({rows, in});
  const Tensor none_dropped = zeros({layer.nnz()}, DType::UInt8);
  const std::set<int64_t> kept = connection_set(layer);
  const std::vector<float> dense = dense_gradient(g, x);
  // More than all the entries of the large rows: the best count reach into the small rows.
  const int64_t count = out / 2 * in + 5000;
  const std::vector<int64_t> expected = reference_grow(dense, kept, count);
  CHECK(as_vector(kernels::largest_absent_gradients(g, x, layer.structure(), none_dropped, count)) == expected);
}

TEST_CASE("rewire_connections: kept and grown merged in order, regrown ones continue", "[rigl]") {
  // A 3 x 4 matrix with connections at positions 1, 2, 5, 10 (rows 0, 0, 1, 2).
  const Tensor indices = from_vector<int64_t>({0, 0, 1, 2, 1, 2, 1, 2}, {2, 4});
  const kernels::SparseStructure structure = kernels::make_sparse_structure(indices, 3, 4);
  const Tensor dropped = from_vector<uint8_t>({1, 0, 1, 0}, {4});  // positions 1 and 5
  const Tensor grown = from_vector<int64_t>({0, 5}, {2});          // a new one and a regrown one
  const kernels::RewiredConnections rewired = kernels::rewire_connections(structure, dropped, grown);
  CHECK(positions_of(rewired.indices, 4) == std::vector<int64_t>{0, 2, 5, 10});
  CHECK(as_vector(rewired.source) == std::vector<int64_t>{-1, 1, 2, 3});
  CHECK(rewired.new_connections == 1);
  WISP_REQUIRE_ERROR(kernels::rewire_connections(structure, dropped, from_vector<int64_t>({2}, {1})),
                     "grown position 2 (0, 2) is a nonzero that is not dropped");
  WISP_REQUIRE_ERROR(kernels::rewire_connections(structure, dropped, from_vector<int64_t>({5, 0}, {2})),
                     "expected increasing grown positions");
  WISP_REQUIRE_ERROR(kernels::rewire_connections(structure, dropped, from_vector<int64_t>({12}, {1})),
                     "grown position 12 out of range [0, 12)");
}

TEST_CASE("gather_or_zero_: moves values by source, zeroes the new ones, refuses a source out of range", "[rigl]") {
  const Tensor tensor = from_vector<float>({10, 20, 30, 40}, {4});
  kernels::gather_or_zero_(tensor, from_vector<int64_t>({3, -1, 0, 0}, {4}));
  CHECK(tensor.to_vector<float>() == std::vector<float>{40, 0, 10, 10});
  WISP_REQUIRE_ERROR(kernels::gather_or_zero_(tensor, from_vector<int64_t>({0, 1, 4, 7}, {4})),
                     "expected every source below the size 4 (negative: zero) but source[2] = 4");
  CHECK(tensor.to_vector<float>() == std::vector<float>{40, 0, 10, 10});  // unchanged by the refusal
  WISP_REQUIRE_ERROR(kernels::gather_or_zero_(tensor, from_vector<int64_t>({0, 1, 2}, {3})),
                     "expected 1-D tensor and source of one shape but got [4] and [3]");
  WISP_REQUIRE_ERROR(kernels::gather_or_zero_(tensor, from_vector<int32_t>({0, 1, 2, 3}, {4})), "source");
}

// ---- one update against a brute-force dense reference ------------------------------------------------------

TEST_CASE("rigl_update: drops the smallest, grows the largest absent gradients, moves companions", "[rigl]") {
  manual_seed(7);
  const auto [in, out, rows, sparsity, fraction] = GENERATE(table<int64_t, int64_t, int64_t, double, double>(
      {{13, 17, 8, 0.7, 0.3}, {50, 20, 16, 0.9, 0.5}, {8, 8, 4, 0.5, 1.0}, {64, 3, 2, 0.8, 0.1}}));
  nn::SparseLinear layer(in, out, nn::SparseLinearOptions().sparsity(sparsity));
  const int64_t nnz = layer.nnz(), count = static_cast<int64_t>(std::floor(fraction * double(nnz)));
  const std::vector<int64_t> old_positions = positions_of(layer.weight().indices(), in);
  const std::vector<float> old_values = values(layer.weights());
  const Tensor companion = randn({nnz});
  const std::vector<float> old_companion = values(companion);
  const Tensor g = small_integers({rows, out}), x = small_integers({rows, in});

  // The reference: drop by magnitude, then grow among everything not kept.
  const std::set<int64_t> dropped = reference_drop(old_values, count, 77);
  std::set<int64_t> kept;
  std::map<int64_t, int64_t> old_index_of;  // position -> old nonzero
  for (int64_t k = 0; k < nnz; ++k) {
    old_index_of[old_positions[size_t(k)]] = k;
    if (!dropped.count(k)) kept.insert(old_positions[size_t(k)]);
  }
  const std::vector<int64_t> grown = reference_grow(dense_gradient(g, x), kept, count, 77);
  std::set<int64_t> expected_set = kept;
  expected_set.insert(grown.begin(), grown.end());

  const nn::RiglUpdate update = nn::rigl_update(layer.weights(), layer.structure(), g, x, count, {companion}, 77);
  CHECK(update.dropped == count);
  REQUIRE(layer.nnz() == nnz);
  const std::vector<int64_t> new_positions = positions_of(layer.weight().indices(), in);
  CHECK(std::is_sorted(new_positions.begin(), new_positions.end()));
  CHECK(std::adjacent_find(new_positions.begin(), new_positions.end()) == new_positions.end());  // no duplicates
  CHECK(std::set<int64_t>(new_positions.begin(), new_positions.end()) == expected_set);

  // Values and companions: kept and regrown keep theirs, new ones are 0.
  const std::vector<float> new_values = values(layer.weights()), new_companion = values(companion);
  int64_t fresh = 0;
  for (size_t j = 0; j < new_positions.size(); ++j) {
    const auto old = old_index_of.find(new_positions[j]);
    if (old == old_index_of.end()) {
      ++fresh;
      CHECK(new_values[j] == 0.0f);
      CHECK(new_companion[j] == 0.0f);
    } else {
      CHECK(new_values[j] == old_values[size_t(old->second)]);
      CHECK(new_companion[j] == old_companion[size_t(old->second)]);
    }
  }
  CHECK(update.moved == fresh);

  // The rebuilt structure (CSR and CSC) computes the same layer as its dense matrix.
  const Tensor input = randn({5, in}).set_requires_grad(true);
  const Tensor dense_input = input.detach().clone().set_requires_grad(true);
  const Tensor y = layer(input);
  const Tensor y_dense = linear(dense_input, layer.weight().to_dense(), layer.bias());
  wisp::testing::require_close(y, y_dense, 1e-4f);
  const Tensor upstream = randn(y.shape());
  y.backward(upstream);
  y_dense.backward(upstream);
  wisp::testing::require_close(input.grad(), dense_input.grad(), 1e-4f);  // the CSC order is right too
}

// ---- the layer driven by an optimizer ------------------------------------------------------------------------------

TEST_CASE("SparseLinear dynamic: a weight() view kept across updates follows the moved connections", "[rigl]") {
  manual_seed(31);
  nn::SparseLinear layer(8, 6, nn::SparseLinearOptions().sparsity(0.5).dynamic(true).delta_t(1).t_end(100).alpha(0.5));
  optim::SGD optimizer(layer.parameters(), optim::SGDOptions(0.1));
  const nn::SparseWeight held = layer.weight();
  const std::vector<int64_t> indices_before = held.indices().to_vector<int64_t>();
  for (int step = 0; step < 3; ++step) {
    optimizer.zero_grad();
    (layer(randn({4, 8})) * randn({4, 6})).sum().backward();
    optimizer.step();
  }
  REQUIRE(layer.rigl_statistics().moved > 0);
  CHECK(held.indices().to_vector<int64_t>() != indices_before);
  CHECK(held.indices().to_vector<int64_t>() == layer.weight().indices().to_vector<int64_t>());
  CHECK(held.to_dense().to_vector<float>() == layer.weight().to_dense().to_vector<float>());
  const Tensor x = randn({3, 8});
  NoGradGuard no_grad;
  wisp::testing::require_close(layer(x), linear(x, held.to_dense(), layer.bias()), 1e-5f);
}

TEST_CASE("SparseLinear dynamic: updates every delta_t optimizer steps until t_end, momentum moved", "[rigl]") {
  manual_seed(11);
  const int64_t in = 30, out = 20, rows = 8;
  nn::SparseLinear layer(in, out, nn::SparseLinearOptions().sparsity(0.8).dynamic(true).delta_t(3).t_end(9).alpha(0.5));
  CHECK(layer.dynamic());
  const int64_t nnz = layer.nnz();
  const double lr = 0.1, momentum = 0.9;
  optim::SGD optimizer(layer.parameters(), optim::SGDOptions(lr).momentum(momentum));
  std::vector<int64_t> update_steps;
  for (int64_t step = 1; step <= 12; ++step) {
    // Random floats: no ties, so the layer's internal tie order does not matter here.
    const Tensor x = randn({rows, in}), upstream = randn({rows, out});
    (layer(x) * upstream).sum().backward();  // grad_output = upstream
    // What SGD will do, and what RigL must then do, computed here from the pre-step state.
    const std::vector<int64_t> positions = positions_of(layer.weight().indices(), in);
    const std::vector<float> w = values(layer.weights()), grad = values(layer.weights().grad());
    const Tensor buffer = optimizer.momentum_buffer(layer.weights());
    std::vector<float> b = buffer.defined() ? values(buffer) : grad;
    std::vector<float> w_after(w.size());
    for (size_t k = 0; k < w.size(); ++k) {
      if (buffer.defined()) b[k] = static_cast<float>(momentum) * b[k] + grad[k];
      w_after[k] = w[k] - static_cast<float>(lr) * b[k];
    }
    const int64_t updates_before = layer.rigl_statistics().updates;
    optimizer.step();
    CHECK(layer.rigl_statistics().steps == step);
    REQUIRE(layer.nnz() == nnz);
    if (layer.rigl_statistics().updates == updates_before) {
      CHECK(positions_of(layer.weight().indices(), in) == positions);
      optimizer.zero_grad();
      continue;
    }
    update_steps.push_back(step);
    const int64_t count = static_cast<int64_t>(std::floor(nn::rigl_drop_fraction(step, 0.5, 9) * double(nnz)));
    CHECK(layer.rigl_statistics().last.dropped == count);
    CHECK(layer.rigl_statistics().last.step == step);
    // Expected connections from the post-step weights and this batch's dense gradient.
    const std::set<int64_t> dropped = reference_drop(w_after, count);
    std::set<int64_t> kept;
    std::map<int64_t, size_t> old_index_of;
    for (size_t k = 0; k < positions.size(); ++k) {
      old_index_of[positions[k]] = k;
      if (!dropped.count(static_cast<int64_t>(k))) kept.insert(positions[k]);
    }
    const std::vector<int64_t> grown = reference_grow(dense_gradient(upstream, x), kept, count);
    std::set<int64_t> expected = kept;
    expected.insert(grown.begin(), grown.end());
    const std::vector<int64_t> new_positions = positions_of(layer.weight().indices(), in);
    CHECK(std::set<int64_t>(new_positions.begin(), new_positions.end()) == expected);
    // The optimizer's momentum buffer is the same tensor, rearranged with the weights.
    const Tensor new_buffer = optimizer.momentum_buffer(layer.weights());
    CHECK(new_buffer.impl() == buffer.impl());
    const std::vector<float> new_w = values(layer.weights()), new_b = values(new_buffer);
    for (size_t j = 0; j < new_positions.size(); ++j) {
      const auto old = old_index_of.find(new_positions[j]);
      if (old == old_index_of.end()) {
        CHECK(new_w[j] == 0.0f);
        CHECK(new_b[j] == 0.0f);
      } else {
        CHECK(new_w[j] == Approx(w_after[old->second]).margin(1e-6));
        CHECK(new_b[j] == Approx(b[old->second]).margin(1e-6));
      }
    }
    optimizer.zero_grad();
  }
  CHECK(update_steps == std::vector<int64_t>{3, 6, 9});  // every 3 steps, none after t_end = 9
  CHECK(layer.rigl_statistics().updates == 3);
  CHECK(layer.rigl_statistics().moved > 0);
}

TEST_CASE("SparseLinear dynamic: a graph recorded before an update refuses to back-propagate after it", "[rigl]") {
  manual_seed(32);
  nn::SparseLinear layer(8, 6, nn::SparseLinearOptions().sparsity(0.5).dynamic(true).delta_t(1).t_end(100).alpha(0.5));
  optim::SGD optimizer(layer.parameters(), optim::SGDOptions(0.1));
  const Tensor stale = layer(randn({4, 8})).sum();  // the input needs no gradient: only the structure is saved
  (layer(randn({4, 8})) * randn({4, 6})).sum().backward();
  optimizer.step();  // a RigL update rewrites the connections
  REQUIRE(layer.rigl_statistics().updates == 1);
  WISP_REQUIRE_ERROR(stale.backward(),
                     "SparseLinearBackward saved for its gradient was updated in place after the "
                     "forward");
}

TEST_CASE("SparseLinear dynamic: steps in eval mode and forwards without a step do not count", "[rigl]") {
  manual_seed(12);
  nn::SparseLinear layer(10, 10, nn::SparseLinearOptions().sparsity(0.5).dynamic(true).delta_t(2).t_end(100));
  optim::SGD optimizer(layer.parameters(), optim::SGDOptions(0.01));
  const auto train_step = [&] {
    layer(randn({4, 10})).sum().backward();
    optimizer.step();
    optimizer.zero_grad();
  };
  for (int i = 0; i < 5; ++i) {  // forwards alone, in both modes
    layer(randn({4, 10}));
    NoGradGuard no_grad;
    layer(randn({4, 10}));
  }
  CHECK(layer.rigl_statistics().steps == 0);
  train_step();
  layer.eval();
  train_step();  // an optimizer step while the layer is in eval mode: not counted
  train_step();
  CHECK(layer.rigl_statistics().steps == 1);
  CHECK(layer.rigl_statistics().updates == 0);
  layer.train();
  train_step();
  CHECK(layer.rigl_statistics().steps == 2);
  CHECK(layer.rigl_statistics().updates == 1);
  CHECK(layer.rigl_statistics().skipped == 0);
  // An update step whose only backward came through an empty batch has nothing to grow by: skipped,
  // the connections unchanged.
  train_step();  // step 3
  const std::vector<int64_t> before = layer.weight().indices().to_vector<int64_t>();
  layer(zeros({0, 10})).sum().backward();
  optimizer.step();  // step 4: an update step
  CHECK(layer.rigl_statistics().steps == 4);
  CHECK(layer.rigl_statistics().updates == 1);
  CHECK(layer.rigl_statistics().skipped == 1);
  CHECK(layer.weight().indices().to_vector<int64_t>() == before);
}

TEST_CASE("SparseLinear dynamic: accumulated gradients of several batches define the growth", "[rigl]") {
  manual_seed(13);
  const int64_t in = 12, out = 9;
  nn::SparseLinear layer(in, out,
                         nn::SparseLinearOptions().sparsity(0.7).dynamic(true).delta_t(1).t_end(10).alpha(0.4));
  optim::SGD optimizer(layer.parameters(), optim::SGDOptions(0.0));  // lr 0: only RigL changes the weights
  const Tensor x1 = randn({3, in}), g1 = randn({3, out});
  const Tensor x2 = randn({5, in}), g2 = randn({5, out});
  (layer(x1) * g1).sum().backward();
  (layer(x2.view({5, 1, in})) * g2.view({5, 1, out})).sum().backward();  // a 3-D batch, accumulated
  const std::vector<int64_t> positions = positions_of(layer.weight().indices(), in);
  const std::vector<float> w = values(layer.weights());
  optimizer.step();
  REQUIRE(layer.rigl_statistics().updates == 1);
  const int64_t count = static_cast<int64_t>(std::floor(nn::rigl_drop_fraction(1, 0.4, 10) * double(layer.nnz())));
  const std::set<int64_t> dropped = reference_drop(w, count);
  std::set<int64_t> kept;
  for (size_t k = 0; k < positions.size(); ++k)
    if (!dropped.count(static_cast<int64_t>(k))) kept.insert(positions[k]);
  const std::vector<int64_t> grown = reference_grow(dense_gradient(cat({g1, g2}, 0), cat({x1, x2}, 0)), kept, count);
  std::set<int64_t> expected = kept;
  expected.insert(grown.begin(), grown.end());
  CHECK(connection_set(layer) == expected);
  // The gradient, still there before zero_grad, moved with the weights: 0 at the new connections.
  const std::vector<float> grad = values(layer.weights().grad());
  const std::vector<int64_t> new_positions = positions_of(layer.weight().indices(), in);
  const std::set<int64_t> old(positions.begin(), positions.end());
  for (size_t j = 0; j < new_positions.size(); ++j)
    if (!old.count(new_positions[j])) CHECK(grad[j] == 0.0f);
}

TEST_CASE("SparseLinear dynamic: printing, statistics of a static layer, a layer inside Sequential", "[rigl]") {
  manual_seed(14);
  nn::SparseLinear layer(10, 20, nn::SparseLinearOptions().dynamic(true));
  CHECK(printed(layer) ==
        "SparseLinear(in_features=10, out_features=20, bias=true, sparsity=0.9, connectivity=random, "
        "small_world=false, dynamic=true, delta_t=100, t_end=15000, alpha=0.3, growth=gradient)");
  nn::SparseLinear fixed(10, 20);
  CHECK_FALSE(fixed.dynamic());
  CHECK(fixed.rigl_statistics().steps == 0);

  // Sequential stores a copy of the layer: the copy observes the same weights and still updates.
  nn::Sequential model(nn::SparseLinear(8, 16, nn::SparseLinearOptions().sparsity(0.5).dynamic(true).delta_t(1)),
                       nn::ReLU(), nn::SparseLinear(16, 4, nn::SparseLinearOptions().sparsity(0.5)));
  optim::SGD optimizer(model.parameters(), optim::SGDOptions(0.1).momentum(0.9));
  for (int i = 0; i < 3; ++i) {
    model(randn({6, 8})).sum().backward();
    optimizer.step();
    optimizer.zero_grad();
  }
  CHECK(model.at<nn::SparseLinear>(0).rigl_statistics().updates == 3);
  CHECK(model.at<nn::SparseLinear>(0).nnz() == 64);
}

TEST_CASE("SparseLinear dynamic: trains a small regression as well as a static layer", "[rigl]") {
  manual_seed(15);
  const Tensor x = randn({64, 40}), y = randn({64, 5});
  nn::Sequential model(
      nn::SparseLinear(40, 100, nn::SparseLinearOptions().dynamic(true).delta_t(20).t_end(300)), nn::ReLU(),
      nn::SparseLinear(100, 5, nn::SparseLinearOptions().sparsity(0.5).dynamic(true).delta_t(20).t_end(300)));
  optim::SGD optimizer(model.parameters(), optim::SGDOptions(1e-3).momentum(0.9));
  float first = 0, last = 0;
  for (int t = 0; t < 400; ++t) {
    const Tensor loss = mse_loss(model(x), y, Reduction::Sum);
    if (t == 0) first = loss.item<float>();
    last = loss.item<float>();
    REQUIRE(std::isfinite(last));
    loss.backward();
    optimizer.step();
    optimizer.zero_grad();
  }
  INFO("loss " << first << " -> " << last);
  CHECK(last < 0.5f * first);
  CHECK(model.at<nn::SparseLinear>(0).rigl_statistics().updates == 15);
  CHECK(model.at<nn::SparseLinear>(0).nnz() == 400);
}

TEST_CASE("SparseLinear dynamic: a fully connected layer (sparsity 0) regrows what it drops", "[rigl]") {
  // Nothing is absent, so both growths can only regrow the dropped connections, which keep their
  // values and state: the updates run and change nothing.
  for (const nn::Growth growth : {nn::Growth::Gradient, nn::Growth::Random}) {
    INFO("growth " << nn::to_string(growth));
    manual_seed(18);
    const int64_t in = 7, out = 5;
    nn::SparseLinear layer(
        in, out, nn::SparseLinearOptions().sparsity(0.0).dynamic(true).delta_t(1).t_end(10).alpha(0.5).growth(growth));
    REQUIRE(layer.nnz() == in * out);
    CHECK(layer.sparsity() == 0.0);
    const std::vector<int64_t> positions = positions_of(layer.weight().indices(), in);
    const double lr = 0.1, momentum = 0.9;
    optim::SGD optimizer(layer.parameters(), optim::SGDOptions(lr).momentum(momentum));
    std::vector<float> buffer(static_cast<size_t>(in * out), 0.0f);
    for (int step = 1; step <= 3; ++step) {
      const Tensor x = randn({4, in});
      const Tensor dense = layer.weight().to_dense();
      wisp::testing::require_close(layer(x), linear(x, dense, layer.bias()), 1e-5f);
      (layer(x) * randn({4, out})).sum().backward();
      const std::vector<float> w = values(layer.weights()), grad = values(layer.weights().grad());
      optimizer.step();
      optimizer.zero_grad();
      CHECK(layer.rigl_statistics().updates == step);
      CHECK(layer.rigl_statistics().last.dropped ==
            static_cast<int64_t>(std::floor(nn::rigl_drop_fraction(step, 0.5, 10) * double(in * out))));
      CHECK(layer.rigl_statistics().last.moved == 0);
      CHECK(positions_of(layer.weight().indices(), in) == positions);
      // Exactly SGD's update: no weight or momentum was reset.
      const std::vector<float> after = values(layer.weights());
      const std::vector<float> state = values(optimizer.momentum_buffer(layer.weights()));
      for (size_t k = 0; k < w.size(); ++k) {
        buffer[k] = step == 1 ? grad[k] : static_cast<float>(momentum) * buffer[k] + grad[k];
        CHECK(state[k] == Approx(buffer[k]).margin(1e-6));
        CHECK(after[k] == Approx(w[k] - static_cast<float>(lr) * buffer[k]).margin(1e-6));
      }
    }
  }
  // rigl_update called directly on a full structure: nothing moves either.
  const SparseStructure full = kernels::make_sparse_structure(nn::random_connectivity(3, 2, 6, 1), 2, 3);
  const Tensor v = from_vector(std::vector<float>{1, -2, 3, -4, 5, -6}, {6});
  const nn::RiglUpdate update = nn::rigl_update(v, full, randn({2, 2}), randn({2, 3}), 4);
  CHECK(update.dropped == 4);
  CHECK(update.moved == 0);
  CHECK(values(v) == std::vector<float>{1, -2, 3, -4, 5, -6});
}
