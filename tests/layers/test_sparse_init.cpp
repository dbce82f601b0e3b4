// SparseLinear initialisation (SparseLinearOptions().init): the seed package's U(±1/√in_features)
// and RigL's unit-scaled U(±1/√fan_in) per output unit, both from the same draws.
#include <algorithm>
#include <cmath>
#include <vector>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::printed;
using wisp::testing::values;

TEST_CASE("SparseLinear init: fan_in scales each output unit by its own connections", "[sparse_init]") {
  const int64_t in = 400, out = 60;
  // Rows with very different fan-in: row o connects to the first 2 + 6 · o inputs.
  std::vector<int64_t> rows, columns;
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < 2 + 6 * o; ++i) {
      rows.push_back(o);
      columns.push_back(i);
    }
  std::vector<int64_t> index = rows;
  index.insert(index.end(), columns.begin(), columns.end());
  const Tensor connectivity = from_vector(index, {2, int64_t(rows.size())});

  manual_seed(21);
  nn::SparseLinear uniform(in, out, nn::SparseLinearOptions().connectivity(connectivity));
  manual_seed(21);
  nn::SparseLinear fan_in(in, out, nn::SparseLinearOptions().connectivity(connectivity).init(nn::SparseInit::FanIn));
  CHECK(printed(fan_in).find(", init=fan_in") != std::string::npos);
  CHECK(printed(uniform).find("init=") == std::string::npos);

  const std::vector<float> w_uniform = values(uniform.weights()), w_fan_in = values(fan_in.weights());
  const std::vector<float> b_uniform = values(uniform.bias()), b_fan_in = values(fan_in.bias());
  const float uniform_bound = 1.0f / std::sqrt(float(in));
  size_t k = 0;
  for (int64_t o = 0; o < out; ++o) {
    const int64_t row_fan_in = 2 + 6 * o;
    const float bound = 1.0f / std::sqrt(float(row_fan_in));
    float largest = 0;
    for (int64_t j = 0; j < row_fan_in; ++j, ++k) {
      INFO("row " << o << ", connection " << j);
      REQUIRE(std::fabs(w_fan_in[k]) <= bound);
      largest = std::max(largest, std::fabs(w_fan_in[k]));
      // The same U(0, 1) draw mapped to the other bound.
      CHECK(w_fan_in[k] / bound == Approx(w_uniform[k] / uniform_bound).margin(1e-5));
    }
    if (row_fan_in >= 50) CHECK(largest > 0.8f * bound);  // the bound is reached, not just respected
    CHECK(std::fabs(b_fan_in[size_t(o)]) <= bound);
    CHECK(b_fan_in[size_t(o)] / bound == Approx(b_uniform[size_t(o)] / uniform_bound).margin(1e-5));
  }
  for (float w : w_uniform) REQUIRE(std::fabs(w) <= uniform_bound);

  // The output's scale no longer shrinks with sparsity: at 99% the default init gives each unit
  // 1/10 of the fan-in √in assumes, so its outputs are about √10 times smaller.
  manual_seed(22);
  const Tensor x = randn({256, 2000});
  nn::SparseLinear sparse_uniform(2000, 500, nn::SparseLinearOptions().sparsity(0.99).bias(false));
  nn::SparseLinear sparse_fan_in(2000, 500,
                                 nn::SparseLinearOptions().sparsity(0.99).bias(false).init(nn::SparseInit::FanIn));
  const auto rms = [](const Tensor& t) {
    double sum = 0;
    for (float v : values(t)) sum += double(v) * v;
    return std::sqrt(sum / double(t.numel()));
  };
  NoGradGuard no_grad;
  // U(±b) has variance b²/3, so each unit's output has rms √(fan_in · b²/3): 1/√3 at b = 1/√fan_in.
  CHECK(rms(sparse_fan_in(x)) == Approx(1.0 / std::sqrt(3.0)).epsilon(0.05));
  CHECK(rms(sparse_uniform(x)) == Approx(std::sqrt(0.01 / 3.0)).epsilon(0.1));
}
