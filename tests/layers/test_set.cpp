// SET (layers/rigl.h with Growth::Random; nn::SparseLinear growth(Growth::Random)): random growth
// among the positions not kept (uniform, distinct, sorted, reproducible from its seed, both
// sampling paths), whole updates, and the layer driven by an optimizer.
#include <algorithm>
#include <cmath>
#include <map>
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

// The structure of the given positions of an out × in grid, and its positions.
SparseStructure structure_of(const std::vector<int64_t>& positions, int64_t out, int64_t in) {
  std::vector<int64_t> index(2 * positions.size());
  for (size_t k = 0; k < positions.size(); ++k) {
    index[k] = positions[k] / in;
    index[positions.size() + k] = positions[k] % in;
  }
  return kernels::make_sparse_structure(from_vector(index, {2, int64_t(positions.size())}), out, in);
}

// The positions of a structure's connections, in (row, col) order.
std::vector<int64_t> positions_of(const SparseStructure& structure) {
  const std::vector<int64_t> pointers = structure.row_pointers.to(DType::Int64).to_vector<int64_t>();
  const std::vector<int64_t> columns = structure.column_indices.to(DType::Int64).to_vector<int64_t>();
  std::vector<int64_t> positions;
  for (int64_t row = 0; row < structure.out_features; ++row)
    for (int64_t k = pointers[size_t(row)]; k < pointers[size_t(row) + 1]; ++k)
      positions.push_back(row * structure.in_features + columns[size_t(k)]);
  return positions;
}

Tensor mask_of(const std::vector<uint8_t>& mask) { return from_vector(mask, {int64_t(mask.size())}); }

// Checks what random_absent_positions promises for one draw and returns the positions.
std::vector<int64_t> checked_draw(const SparseStructure& structure, const std::vector<int64_t>& positions,
                                  const std::vector<uint8_t>& dropped, int64_t count, uint64_t seed) {
  const Tensor grown = nn::random_absent_positions(structure, mask_of(dropped), count, seed);
  REQUIRE(grown.dtype() == DType::Int64);
  REQUIRE(grown.shape() == Shape{count});
  const std::vector<int64_t> result = grown.to_vector<int64_t>();
  std::set<int64_t> kept;
  for (size_t k = 0; k < positions.size(); ++k)
    if (!dropped[k]) kept.insert(positions[k]);
  for (size_t j = 0; j < result.size(); ++j) {
    REQUIRE(result[j] >= 0);
    REQUIRE(result[j] < structure.out_features * structure.in_features);
    REQUIRE_FALSE(kept.count(result[j]));
    if (j > 0) REQUIRE(result[j] > result[j - 1]);  // increasing: sorted and distinct
  }
  return result;
}

}  // namespace

TEST_CASE("random_absent_positions: uniform over the positions not kept, on both sampling paths", "[set]") {
  const int64_t out = 4, in = 5;  // 20 positions
  // Path 1 (rejection from the whole grid): 6 connections, 2 dropped, grow 3: 16 free, 13 after.
  // Path 2 (listing the free positions): 16 connections, 2 dropped, grow 4: 6 free, 2 after.
  struct Case {
    std::vector<int64_t> positions;
    std::vector<uint8_t> dropped;
    int64_t count;
  };
  const std::vector<Case> cases = {
      {{0, 3, 7, 8, 12, 19}, {0, 1, 0, 0, 1, 0}, 3},
      {{0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 15, 16, 17, 18}, {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0}, 4}};
  for (const Case& c : cases) {
    const SparseStructure structure = structure_of(c.positions, out, in);
    std::set<int64_t> free;
    for (int64_t p = 0; p < out * in; ++p) free.insert(p);
    for (size_t k = 0; k < c.positions.size(); ++k)
      if (!c.dropped[k]) free.erase(c.positions[k]);
    const int trials = 6000;
    std::map<int64_t, int> hits;
    for (int t = 0; t < trials; ++t)
      for (int64_t p : checked_draw(structure, c.positions, c.dropped, c.count, uint64_t(t))) ++hits[p];
    // Each free position is drawn with probability count / free: 5 standard deviations either way.
    const double p = double(c.count) / double(free.size()), expected = trials * p;
    const double tolerance = 5 * std::sqrt(trials * p * (1 - p));
    INFO("count " << c.count << " of " << free.size() << " free positions");
    CHECK(hits.size() == free.size());
    for (int64_t position : free) {
      INFO("position " << position << ": " << hits[position] << " hits, expected " << expected);
      CHECK(std::fabs(hits[position] - expected) <= tolerance);
    }
  }
}

TEST_CASE("random_absent_positions: a function of the seed, identical in every process", "[set]") {
  const std::vector<int64_t> positions = {1, 4, 9, 10, 22, 23, 31, 40, 47, 55};
  const std::vector<uint8_t> dropped = {0, 1, 0, 0, 1, 0, 1, 0, 0, 0};
  const SparseStructure structure = structure_of(positions, 8, 8);
  const std::vector<int64_t> first = checked_draw(structure, positions, dropped, 3, 42);
  CHECK(checked_draw(structure, positions, dropped, 3, 42) == first);
  // The stream is counter-based (core/random.h), so these are the positions on every machine.
  CHECK(first == std::vector<int64_t>{25, 36, 50});
  // The layer's seed for update step t is rigl_tie_rank(t, layer seed): other steps, other draws.
  const uint64_t layer_seed = 7;
  std::set<std::vector<int64_t>> draws;
  for (int64_t step = 1; step <= 5; ++step)
    draws.insert(checked_draw(structure, positions, dropped, 3, kernels::rigl_tie_rank(step, layer_seed)));
  CHECK(draws.size() == 5);
  // Nothing to draw, everything to draw.
  CHECK(checked_draw(structure, positions, dropped, 0, 1).empty());
  CHECK(checked_draw(structure, positions, dropped, 64 - 7, 1).size() == 57);
  WISP_REQUIRE_ERROR(nn::random_absent_positions(structure, mask_of(dropped), 58, 1), "count in [0, 57]", "58");
  WISP_REQUIRE_ERROR(nn::random_absent_positions(structure, mask_of({0, 1}), 1, 1), "dropped of shape [10]");
}

TEST_CASE("set_update: drops the smallest magnitudes, grows at random, moves values and companions", "[set]") {
  manual_seed(41);
  const int64_t out = 30, in = 40;
  const Tensor indices = nn::random_connectivity(in, out, 120, 3);
  const SparseStructure structure = kernels::make_sparse_structure(indices, out, in);
  const std::vector<int64_t> positions = positions_of(indices, in);
  const Tensor weights = randn({120}), momentum = randn({120});
  const std::vector<float> w = values(weights), m = values(momentum);
  const int64_t count = 36;
  std::vector<size_t> order(w.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return std::fabs(w[a]) < std::fabs(w[b]); });
  std::map<int64_t, size_t> old_index_of;
  for (size_t k = 0; k < positions.size(); ++k) old_index_of[positions[k]] = k;
  std::set<int64_t> dropped;
  for (int64_t k = 0; k < count; ++k) dropped.insert(positions[order[size_t(k)]]);

  const nn::RiglUpdate update = nn::set_update(weights, structure, count, {momentum}, 9);
  CHECK(update.dropped == count);
  const std::vector<int64_t> new_positions = positions_of(structure);
  REQUIRE(new_positions.size() == 120);
  int64_t new_connections = 0;
  const std::vector<float> new_w = values(weights), new_m = values(momentum);
  for (size_t j = 0; j < new_positions.size(); ++j) {
    if (j > 0) REQUIRE(new_positions[j] > new_positions[j - 1]);
    const auto old = old_index_of.find(new_positions[j]);
    if (old == old_index_of.end()) {
      ++new_connections;
      CHECK(new_w[j] == 0.0f);
      CHECK(new_m[j] == 0.0f);
    } else {  // kept, or dropped and drawn again: its value and state continue
      CHECK(new_w[j] == w[old->second]);
      CHECK(new_m[j] == m[old->second]);
    }
  }
  CHECK(update.moved == new_connections);
  CHECK(new_connections > 0);
  // Every connection that went was among the smallest magnitudes.
  const std::set<int64_t> now(new_positions.begin(), new_positions.end());
  for (int64_t p : positions)
    if (!now.count(p)) CHECK(dropped.count(p));
}

TEST_CASE("SparseLinear SET: nnz constant, the drop schedule followed, reproducible from the seed", "[set]") {
  const auto options = nn::SparseLinearOptions()
                           .sparsity(0.9)
                           .dynamic(true)
                           .delta_t(2)
                           .t_end(20)
                           .alpha(0.4)
                           .growth(nn::Growth::Random)
                           .seed(5);
  const auto run = [&](nn::SparseLinearOptions layer_options) {
    manual_seed(16);
    nn::SparseLinear layer(50, 40, layer_options);
    optim::SGD optimizer(layer.parameters(), optim::SGDOptions(0.05).momentum(0.9));
    std::vector<std::vector<int64_t>> history = {positions_of(layer.weight().indices(), 50)};
    for (int64_t step = 1; step <= 24; ++step) {
      (layer(randn({8, 50})) * randn({8, 40})).sum().backward();
      const int64_t updates_before = layer.rigl_statistics().updates;
      optimizer.step();
      optimizer.zero_grad();
      REQUIRE(layer.nnz() == 200);
      const std::vector<int64_t> now = positions_of(layer.weight().indices(), 50);
      REQUIRE(std::set<int64_t>(now.begin(), now.end()).size() == 200);
      REQUIRE(std::is_sorted(now.begin(), now.end()));
      if (layer.rigl_statistics().updates == updates_before) {
        CHECK(now == history.back());
        continue;
      }
      const nn::RiglUpdate& last = layer.rigl_statistics().last;
      CHECK(last.step == step);
      CHECK(last.dropped == int64_t(std::floor(nn::rigl_drop_fraction(step, 0.4, 20) * 200.0)));
      // moved: the connections that are new, as many as left (the rest were drawn again).
      const std::set<int64_t> before(history.back().begin(), history.back().end());
      int64_t moved = 0;
      for (int64_t p : now) moved += !before.count(p);
      CHECK(last.moved == moved);
      CHECK(moved <= last.dropped);
      // A dropped position is drawn again with probability about dropped / 1800 (the free grid),
      // so nearly all of the dropped fraction moves.
      CHECK(moved >= last.dropped - last.dropped / 5);
      history.push_back(now);
    }
    CHECK(layer.rigl_statistics().updates == 10);  // steps 2, 4, …, 20
    CHECK(layer.rigl_statistics().skipped == 0);
    CHECK(layer.rigl_statistics().moved > 100);
    return history;
  };
  const auto first = run(options);
  CHECK(run(options) == first);  // same seed, same connections
  CHECK(run(nn::SparseLinearOptions(options).seed(6)) != first);
}

TEST_CASE("SparseLinear SET: needs no gradient tap, prints growth=random, trains a small model", "[set]") {
  manual_seed(17);
  nn::SparseLinear printed_layer(10, 20, nn::SparseLinearOptions().dynamic(true).growth(nn::Growth::Random));
  CHECK(printed(printed_layer) ==
        "SparseLinear(in_features=10, out_features=20, bias=true, sparsity=0.9, connectivity=random, "
        "small_world=false, dynamic=true, delta_t=100, t_end=15000, alpha=0.3, growth=random)");
  // A forward on an update step is not tapped: SET grows without the batch.
  nn::SparseLinear tapless(6, 4,
                           nn::SparseLinearOptions().sparsity(0.5).dynamic(true).delta_t(1).growth(nn::Growth::Random));
  nn::SparseLinear tapped(6, 4, nn::SparseLinearOptions().sparsity(0.5).dynamic(true).delta_t(1));
  CHECK(tapped(randn({2, 6})).grad_fn_name() == "RiglGradientTap");
  CHECK(tapless(randn({2, 6})).grad_fn_name() != "RiglGradientTap");

  const Tensor x = randn({64, 40}), y = randn({64, 5});
  nn::Sequential model(
      nn::SparseLinear(40, 100,
                       nn::SparseLinearOptions().dynamic(true).delta_t(5).t_end(300).growth(nn::Growth::Random)),
      nn::ReLU(),
      nn::SparseLinear(
          100, 5,
          nn::SparseLinearOptions().sparsity(0.5).dynamic(true).delta_t(5).t_end(300).growth(nn::Growth::Random)));
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
  CHECK(model.at<nn::SparseLinear>(0).rigl_statistics().updates == 60);
  CHECK(model.at<nn::SparseLinear>(0).rigl_statistics().moved > 0);
  CHECK(model.at<nn::SparseLinear>(0).nnz() == 400);
}
