// nn::erk_sparsities (layers/erk.h): RigL's Erdős–Rényi-Kernel budgets against values worked out by
// hand for the notebook's model and the wide model, the budget kept, and the argument checks.
#include <cmath>
#include <vector>

#include "test_helpers.h"

using namespace wisp;

namespace {

// Connections the layers get at these sparsities, as SparseLinear rounds them.
double total_connections(const std::vector<std::vector<int64_t>>& shapes, const std::vector<double>& sparsity) {
  double total = 0;
  for (size_t l = 0; l < shapes.size(); ++l)
    total += std::round((1.0 - sparsity[l]) * double(shapes[l][0]) * double(shapes[l][1]));
  return total;
}

}  // namespace

TEST_CASE("erk_sparsities: the notebook's model, whose small output layer becomes dense", "[erk]") {
  // 784 → 2000 → 10 at 90%: N = 1,568,000 and 20,000, kept budget 156,800 + 2,000 = 158,800.
  // First pass: ε = 158,800 / (2784 + 2010) = 33.12…, and ε · 2010/20000 = 3.33 > 1: the output layer
  // is dense. Second pass: its 18,000 absent connections come out of the first layer's budget,
  // ε = (156,800 − 18,000) / 2784, density = ε · 2784 / 1,568,000 = 138,800 / 1,568,000.
  const std::vector<std::vector<int64_t>> shapes = {{2000, 784}, {10, 2000}};
  const std::vector<double> sparsity = nn::erk_sparsities(shapes, 0.9);
  REQUIRE(sparsity.size() == 2);
  CHECK(sparsity[0] == Approx(1.0 - 138800.0 / 1568000.0).epsilon(1e-12));  // 0.91147959…
  CHECK(sparsity[1] == 0.0);
  CHECK(total_connections(shapes, sparsity) == 158800.0);
}

TEST_CASE("erk_sparsities: the wide model, where no layer becomes dense", "[erk]") {
  // 7840 → 50000 then four 50000 → 50000 at 99.9%: kept budget 392,000 + 4 · 2,500,000 = 10,392,000;
  // Σ raw_l · N_l = Σ (out_l + in_l) = 57,840 + 4 · 100,000 = 457,840, so ε = 10,392,000 / 457,840 and
  // density_l = ε · (out_l + in_l) / (out_l · in_l).
  const std::vector<std::vector<int64_t>> shapes = {
      {50000, 7840}, {50000, 50000}, {50000, 50000}, {50000, 50000}, {50000, 50000}};
  const std::vector<double> sparsity = nn::erk_sparsities(shapes, 0.999);
  REQUIRE(sparsity.size() == 5);
  const double epsilon = 10392000.0 / 457840.0;
  CHECK(sparsity[0] == Approx(1.0 - epsilon * 57840.0 / 392000000.0).epsilon(1e-12));  // 0.99665090…
  for (size_t l = 1; l < 5; ++l) CHECK(sparsity[l] == Approx(1.0 - epsilon * 100000.0 / 2.5e9).epsilon(1e-12));
  CHECK(sparsity[0] == Approx(0.996650903800276).epsilon(1e-12));
  CHECK(sparsity[1] == Approx(0.999092084571029).epsilon(1e-12));
  // Within rounding: at most half a connection per layer either way.
  CHECK(std::fabs(total_connections(shapes, sparsity) - 10392000.0) <= 2.5);
}

TEST_CASE("erk_sparsities: equal layers share the sparsity, 0 is dense, bad arguments refused", "[erk]") {
  const std::vector<double> equal = nn::erk_sparsities({{300, 300}, {300, 300}}, 0.8);
  CHECK(equal[0] == Approx(0.8).epsilon(1e-12));
  CHECK(equal[1] == Approx(0.8).epsilon(1e-12));
  CHECK(nn::erk_sparsities({{2000, 784}, {10, 2000}}, 0.0) == std::vector<double>{0.0, 0.0});
  CHECK(nn::erk_sparsities({{300, 300}, {300, 300}}, 0.0) == std::vector<double>{0.0, 0.0});
  // Two layers become dense in turn, the smallest first: at 95%, the first pass gives the 4 × 4 layer
  // ε · raw > 1, the second the 10 × 1000 one. The 1000 × 1000 layer then keeps its own 50,000 minus
  // the absent connections of the dense ones, ⌊0.95 · 10000⌋ + ⌊0.95 · 16⌋ = 9,515: density 0.040485.
  const std::vector<std::vector<int64_t>> shapes = {{1000, 1000}, {10, 1000}, {4, 4}};
  const std::vector<double> sparsity = nn::erk_sparsities(shapes, 0.95);
  CHECK(sparsity[0] == Approx(1.0 - 40485.0 / 1e6).epsilon(1e-12));
  CHECK(sparsity[1] == 0.0);
  CHECK(sparsity[2] == 0.0);
  CHECK(total_connections(shapes, sparsity) == 50000.0 + 500.0 + 1.0);  // Σ (N_l − ⌊0.95 · N_l⌋)

  WISP_REQUIRE_ERROR(nn::erk_sparsities({}, 0.9), "at least one layer shape");
  WISP_REQUIRE_ERROR(nn::erk_sparsities({{10, 10}}, 1.0), "sparsity in [0, 1)", "1");
  WISP_REQUIRE_ERROR(nn::erk_sparsities({{10, 10}, {10, 0}}, 0.5), "layer 1", "[10, 0]");
  WISP_REQUIRE_ERROR(nn::erk_sparsities({{10, 10, 3}}, 0.5), "two positive sizes", "3 sizes");
  // ERK gives the 1 × 1 layer density 0.31: round(0.31) = 0 connections.
  WISP_REQUIRE_ERROR(nn::erk_sparsities({{1, 1}, {1, 10}}, 0.9), "leaves layer 0 [1, 1] no connection");
}
