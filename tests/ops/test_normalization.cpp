// layer_norm: forward by hand, against a double-precision reference and PyTorch; gradients;
// the parallel path; errors.
#include <cmath>
#include <limits>

#include "reference/layer_norm_loss_golden.h"
#include "test_helpers.h"

using namespace wisp;
using wisp::testing::require_close;
using wisp::testing::values;

namespace {

using Function = std::function<Tensor(const std::vector<Tensor>&)>;

// The result of a naive layer_norm in double precision on the float32 values of the inputs.
struct Reference {
  std::vector<double> output, grad_input, grad_weight, grad_bias;
};

// x: [rows, features]; weight, bias: [features] or empty (1 and 0); grad_output: [rows, features].
Reference reference_layer_norm(const std::vector<float>& x, int64_t rows, int64_t features,
                               const std::vector<float>& weight, const std::vector<float>& bias,
                               const std::vector<float>& grad_output, double eps) {
  Reference result;
  const size_t n = static_cast<size_t>(features);
  result.output.resize(x.size());
  result.grad_input.resize(x.size());
  result.grad_weight.assign(n, 0.0);
  result.grad_bias.assign(n, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const size_t base = static_cast<size_t>(r) * n;
    double mean = 0, variance = 0;
    for (size_t f = 0; f < n; ++f) mean += x[base + f];
    mean /= features;
    for (size_t f = 0; f < n; ++f) variance += (x[base + f] - mean) * (x[base + f] - mean);
    variance /= features;
    const double rstd = 1.0 / std::sqrt(variance + eps);
    std::vector<double> normalized(n), grad_normalized(n);
    double mean_grad = 0, mean_grad_dot = 0;
    for (size_t f = 0; f < n; ++f) {
      const double w = weight.empty() ? 1.0 : weight[f];
      const double b = bias.empty() ? 0.0 : bias[f];
      const double g = grad_output[base + f];
      normalized[f] = (x[base + f] - mean) * rstd;
      result.output[base + f] = normalized[f] * w + b;
      grad_normalized[f] = g * w;
      mean_grad += grad_normalized[f] / features;
      mean_grad_dot += grad_normalized[f] * normalized[f] / features;
      result.grad_weight[f] += g * normalized[f];
      result.grad_bias[f] += g;
    }
    for (size_t f = 0; f < n; ++f)
      result.grad_input[base + f] = rstd * (grad_normalized[f] - mean_grad - normalized[f] * mean_grad_dot);
  }
  return result;
}

// REQUIRE |actual − expected| <= tolerance · (1 + |expected|) everywhere; reports the worst element.
void require_close_to(const std::vector<float>& actual, const std::vector<double>& expected, double tolerance) {
  REQUIRE(actual.size() == expected.size());
  if (actual.empty()) return;
  size_t worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double excess = std::abs(actual[i] - expected[i]) - tolerance * (1.0 + std::abs(expected[i]));
    if (std::isnan(excess)) {
      worst_excess = excess;
      worst = i;
      break;
    }
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  INFO("worst element " << worst << ": " << actual[worst] << " vs " << expected[worst]);
  REQUIRE(worst_excess <= 0);  // false for NaN
}

Tensor golden_tensor(const std::vector<float>& data, const Shape& shape) { return from_vector(data, shape); }

}  // namespace

TEST_CASE("layer_norm of [1, 2, 3, 4] by hand", "[layers][layer_norm]") {
  // mean 2.5, biased variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25.
  const float rstd = static_cast<float>(1.0 / std::sqrt(1.25 + 1e-5));
  Tensor x = from_vector(std::vector<float>{1, 2, 3, 4});
  Tensor plain = layer_norm(x, {4});
  REQUIRE(plain.shape() == Shape{4});
  require_close(plain, from_vector(std::vector<float>{-1.5f * rstd, -0.5f * rstd, 0.5f * rstd, 1.5f * rstd}), 1e-6f);

  // With an affine transform: y = x̂ · weight + bias.
  Tensor weight = from_vector(std::vector<float>{1, 2, -1, 0.5f});
  Tensor bias = from_vector(std::vector<float>{0, 1, 2, -3});
  Tensor affine = layer_norm(x, {4}, weight, bias);
  require_close(affine,
                from_vector(std::vector<float>{-1.5f * rstd, 1 - 1.0f * rstd, 2 - 0.5f * rstd, -3 + 0.75f * rstd}),
                1e-6f);
  // Weight only, bias only.
  require_close(layer_norm(x, {4}, weight), affine - bias, 1e-6f);
  require_close(layer_norm(x, {4}, Tensor(), bias), plain + bias, 1e-6f);

  // Rows are independent: [2, 4] with a shifted, scaled second row gives the same normalised row.
  Tensor two_rows = from_vector(std::vector<float>{1, 2, 3, 4, 110, 120, 130, 140}, {2, 4});
  Tensor both = layer_norm(two_rows, {4}, Tensor(), Tensor(), 0.0);
  const float exact = static_cast<float>(1.0 / std::sqrt(1.25));
  require_close(both,
                from_vector(std::vector<float>{-1.5f * exact, -0.5f * exact, 0.5f * exact, 1.5f * exact, -1.5f * exact,
                                               -0.5f * exact, 0.5f * exact, 1.5f * exact},
                            {2, 4}),
                1e-6f);
}

TEST_CASE("layer_norm of a constant row is the bias", "[layers][layer_norm]") {
  // Zero variance: rstd = 1/sqrt(eps) is finite, x − mean = 0, so the output is exactly the bias.
  Tensor x = full({2, 3}, 7.0);
  Tensor bias = from_vector(std::vector<float>{0.5f, -1, 2});
  Tensor y = layer_norm(x, {3}, ones({3}), bias);
  CHECK(values(y) == std::vector<float>{0.5f, -1, 2, 0.5f, -1, 2});
}

TEST_CASE("layer_norm matches a double-precision reference", "[layers][layer_norm]") {
  manual_seed(5);
  struct Case {
    Shape input, normalized;
  };
  for (const Case& c : {Case{{7}, {7}}, Case{{5, 13}, {13}}, Case{{4, 3, 6}, {3, 6}}, Case{{4, 3, 6}, {6}},
                        Case{{64, 2000}, {2000}}, Case{{3, 40000}, {40000}}}) {
    for (int affine = 0; affine < 4; ++affine) {
      INFO("input " << c.input << ", normalized " << c.normalized << ", weight " << (affine & 1) << ", bias "
                    << (affine & 2));
      // A large offset next to the spread: two-pass statistics in double stay accurate.
      Tensor x = (randn(c.input) * 0.5 + 100.0).detach().set_requires_grad(true);
      Tensor weight = (affine & 1) ? randn(c.normalized).set_requires_grad(true) : Tensor();
      Tensor bias = (affine & 2) ? randn(c.normalized).set_requires_grad(true) : Tensor();
      Tensor grad_output = randn(c.input);
      Tensor y = layer_norm(x, c.normalized, weight, bias, 1e-5);
      REQUIRE(y.shape() == c.input);
      CHECK(y.grad_fn_name() == "LayerNormBackward");
      y.backward(grad_output);

      const int64_t features = c.normalized.numel(), rows = x.numel() / features;
      const Reference expected =
          reference_layer_norm(values(x), rows, features, weight.defined() ? values(weight) : std::vector<float>{},
                               bias.defined() ? values(bias) : std::vector<float>{}, values(grad_output), 1e-5);
      require_close_to(values(y), expected.output, 2e-4);
      require_close_to(values(x.grad()), expected.grad_input, 2e-3);
      if (weight.defined()) require_close_to(values(weight.grad()), expected.grad_weight, 1e-3);
      if (bias.defined()) require_close_to(values(bias.grad()), expected.grad_bias, 1e-4);
    }
  }
}

TEST_CASE("layer_norm matches PyTorch", "[layers][layer_norm]") {
  Tensor x = golden_tensor(golden::layer_norm_input, {3, 2, 5}).set_requires_grad(true);
  Tensor weight = golden_tensor(golden::layer_norm_weight, {2, 5}).set_requires_grad(true);
  Tensor bias = golden_tensor(golden::layer_norm_bias, {2, 5}).set_requires_grad(true);
  Tensor y = layer_norm(x, {2, 5}, weight, bias, 1e-5);
  // The input's large offset (mean 50, spread 2) is there to catch a one-pass variance
  // (E[x²] − mean² in float), which errs by up to ~1e-4 here against ~5e-6 for a correct one:
  // hence 2e-5, not 1e-4. (The float64-reference test above covers the same with a larger offset.)
  require_close(y, golden_tensor(golden::layer_norm_output, {3, 2, 5}), 2e-5f);
  y.backward(golden_tensor(golden::layer_norm_grad_output, {3, 2, 5}));
  require_close(x.grad(), golden_tensor(golden::layer_norm_grad_input, {3, 2, 5}), 1e-4f);
  require_close(weight.grad(), golden_tensor(golden::layer_norm_grad_weight, {2, 5}), 1e-4f);
  require_close(bias.grad(), golden_tensor(golden::layer_norm_grad_bias, {2, 5}), 1e-5f);
}

TEST_CASE("layer_norm gradients", "[layers][layer_norm]") {
  manual_seed(17);
  SECTION("1-D, no affine") {
    const Function function = [](const std::vector<Tensor>& in) { return layer_norm(in[0], {6}); };
    const std::vector<Tensor> inputs{randn({6})};
    WISP_REQUIRE_GRADIENTS(function, inputs);
  }
  SECTION("2-D, weight and bias") {
    const Function function = [](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}, in[1], in[2]); };
    const std::vector<Tensor> inputs{randn({4, 5}), randn({5}), randn({5})};
    WISP_REQUIRE_GRADIENTS(function, inputs);
  }
  SECTION("3-D over the two trailing dimensions, weight and bias") {
    const Function function = [](const std::vector<Tensor>& in) {
      return layer_norm(in[0], {3, 4}, in[1], in[2], 1e-3);
    };
    const std::vector<Tensor> inputs{randn({2, 3, 4}), randn({3, 4}), randn({3, 4})};
    WISP_REQUIRE_GRADIENTS(function, inputs);
  }
  SECTION("3-D over the last dimension, weight only") {
    const Function function = [](const std::vector<Tensor>& in) { return layer_norm(in[0], {4}, in[1]); };
    const std::vector<Tensor> inputs{randn({2, 3, 4}), randn({4})};
    WISP_REQUIRE_GRADIENTS(function, inputs);
  }
  SECTION("bias only") {
    const Function function = [](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}, Tensor(), in[1]); };
    const std::vector<Tensor> inputs{randn({3, 5}), randn({5})};
    WISP_REQUIRE_GRADIENTS(function, inputs);
  }
  SECTION("composed with other ops (the gradient of a squared output)") {
    const Function function = [](const std::vector<Tensor>& in) {
      Tensor y = layer_norm(in[0], {5}, in[1], in[2]);
      return (y * y).sum(1);
    };
    const std::vector<Tensor> inputs{randn({3, 5}), randn({5}), randn({5})};
    WISP_REQUIRE_GRADIENTS(function, inputs);
  }
}

TEST_CASE("layer_norm computes only the gradients that are needed", "[layers][layer_norm]") {
  manual_seed(3);
  Tensor x = randn({4, 8});  // no gradient wanted
  Tensor weight = randn({8}).set_requires_grad(true);
  Tensor bias = randn({8});  // no gradient wanted
  Tensor grad_output = randn({4, 8});
  layer_norm(x, {8}, weight, bias).backward(grad_output);
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(bias.grad().defined());
  const Reference expected =
      reference_layer_norm(values(x), 4, 8, values(weight), values(bias), values(grad_output), 1e-5);
  require_close_to(values(weight.grad()), expected.grad_weight, 1e-5);

  // Nothing requires grad: nothing is recorded.
  Tensor y = layer_norm(x, {8}, weight.detach(), bias);
  CHECK_FALSE(y.requires_grad());
  CHECK(y.grad_fn_name().empty());
  {
    NoGradGuard no_grad;
    CHECK_FALSE(layer_norm(x, {8}, weight, bias).requires_grad());
  }
}

TEST_CASE("layer_norm on the MNIST hot path is reproducible and thread-count safe", "[layers][layer_norm]") {
  // [64, 2000] takes the parallel path with per-thread partial sums for grad_weight and grad_bias.
  manual_seed(23);
  Tensor x = randn({64, 2000});
  Tensor weight = randn({2000}), bias = randn({2000});
  Tensor grad_output = randn({64, 2000});
  auto run = [&] {
    Tensor input = x.detach().set_requires_grad(true);
    Tensor w = weight.detach().set_requires_grad(true), b = bias.detach().set_requires_grad(true);
    layer_norm(input, {2000}, w, b).backward(grad_output);
    return std::vector<Tensor>{input.grad(), w.grad(), b.grad()};
  };
  const std::vector<Tensor> first = run(), second = run();
  for (size_t k = 0; k < first.size(); ++k) CHECK(values(first[k]) == values(second[k]));  // bitwise

  const int threads = get_num_threads();
  set_num_threads(1);
  const std::vector<Tensor> serial = run();
  set_num_threads(threads);
  for (size_t k = 0; k < first.size(); ++k) require_close(serial[k], first[k], 1e-4f);
}

TEST_CASE("layer_norm with NaN input does not crash", "[layers][layer_norm]") {
  Tensor x = from_vector(std::vector<float>{1, NAN, 3, 1, 2, 3}, {2, 3});
  Tensor y = layer_norm(x, {3});
  const std::vector<float> out = values(y);
  for (int i = 0; i < 3; ++i) CHECK(std::isnan(out[static_cast<size_t>(i)]));  // the NaN row is NaN
  CHECK(out[3] == Approx(-std::sqrt(1.5)).epsilon(1e-4));                      // the other row is fine
  CHECK(out[4] == Approx(0.0).margin(1e-6));
}

TEST_CASE("layer_norm errors", "[layers][layer_norm]") {
  Tensor x = zeros({64, 1999});
  WISP_REQUIRE_ERROR(layer_norm(x, {2000}),
                     "layer_norm: expected input with trailing dimensions [2000] but got shape "
                     "[64, 1999]");
  WISP_REQUIRE_ERROR(layer_norm(zeros({4}), {2, 4}), "trailing dimensions [2, 4]", "[4]");
  WISP_REQUIRE_ERROR(layer_norm(zeros({3, 4}), {3}), "trailing dimensions [3]", "[3, 4]");
  WISP_REQUIRE_ERROR(layer_norm(zeros({3, 4}), {}), "non-empty normalized_shape");
  WISP_REQUIRE_ERROR(layer_norm(zeros({3, 4}), {4}, ones({3})), "layer_norm: expected weight of shape [4]", "got [3]");
  WISP_REQUIRE_ERROR(layer_norm(zeros({3, 4}), {4}, ones({4}), ones({1, 4})), "expected bias of shape [4]",
                     "got [1, 4]");
  WISP_REQUIRE_ERROR(layer_norm(zeros({3, 4}, DType::Int64), {4}), "layer_norm: expected input of dtype float32",
                     "int64");
  WISP_REQUIRE_ERROR(layer_norm(zeros({3, 4}), {4}, ones({4}, DType::Int64)), "weight of dtype float32", "int64");
  WISP_REQUIRE_ERROR(layer_norm(zeros({3, 4}), {4}, Tensor(), Tensor(), -1.0), "eps >= 0", "-1");
  WISP_REQUIRE_ERROR(layer_norm(Tensor(), {4}), "layer_norm", "defined");
}
