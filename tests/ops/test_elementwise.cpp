// Elementwise arithmetic with broadcasting, scalar arithmetic and unary functions.
#include <cmath>
#include <functional>
#include <limits>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::require_close;
using wisp::testing::values;

namespace {
Tensor floats(std::vector<float> v, const Shape& shape) { return from_vector(v, shape); }
}  // namespace

TEST_CASE("binary arithmetic forward", "[layers][elementwise]") {
  Tensor a = floats({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor row = floats({10, 20, 30}, {3});
  Tensor column = floats({100, 200}, {2, 1});
  CHECK(values(a + row) == std::vector<float>{11, 22, 33, 14, 25, 36});
  CHECK(values(a - column) == std::vector<float>{-99, -98, -97, -196, -195, -194});
  CHECK(values(row * column) == std::vector<float>{1000, 2000, 3000, 2000, 4000, 6000});
  CHECK((row * column).shape() == Shape{2, 3});
  require_close(a / row, floats({0.1f, 0.1f, 0.1f, 0.4f, 0.25f, 0.2f}, {2, 3}));
  CHECK(values(a * a) == std::vector<float>{1, 4, 9, 16, 25, 36});
  Tensor scalar = full({}, 2.0);
  CHECK(values(a * scalar) == std::vector<float>{2, 4, 6, 8, 10, 12});
  CHECK((scalar * scalar).dim() == 0);
  // [2, 1, 3] and [4, 1] broadcast to [2, 4, 3].
  Tensor left = arange(6).view({2, 1, 3}), right = arange(4).view({4, 1});
  Tensor sum = left + right;
  REQUIRE(sum.shape() == Shape{2, 4, 3});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 3; ++k) CHECK(sum.at<float>(i, j, k) == float(i * 3 + k + j));
}

TEST_CASE("scalar arithmetic and unary functions", "[layers][elementwise]") {
  Tensor a = floats({1, 2, 4}, {3});
  CHECK(values(a + 1.0) == std::vector<float>{2, 3, 5});
  CHECK(values(1.0 - a) == std::vector<float>{0, -1, -3});
  CHECK(values(a - 1.0) == std::vector<float>{0, 1, 3});
  CHECK(values(2.0 * a) == std::vector<float>{2, 4, 8});
  CHECK(values(a / 2.0) == std::vector<float>{0.5f, 1, 2});
  CHECK(values(4.0 / a) == std::vector<float>{4, 2, 1});
  CHECK(values(-a) == std::vector<float>{-1, -2, -4});
  CHECK(values(sqrt(a)) == std::vector<float>{1, std::sqrt(2.0f), 2});
  require_close(log(exp(a)), a);
  CHECK(values(relu(floats({-1, 0, 2}, {3}))) == std::vector<float>{0, 0, 2});
  CHECK(values(floats({-1, 3}, {2}).relu()) == std::vector<float>{0, 3});
}

TEST_CASE("integer arithmetic and comparisons", "[layers][elementwise]") {
  Tensor i = arange(4, DType::Int64);
  CHECK((i + i).to_vector<int64_t>() == std::vector<int64_t>{0, 2, 4, 6});
  CHECK((i * 3.0).to_vector<int64_t>() == std::vector<int64_t>{0, 3, 6, 9});
  CHECK((-i).to_vector<int64_t>() == std::vector<int64_t>{0, -1, -2, -3});
  Tensor labels = from_vector(std::vector<int64_t>{0, 1, 5, 3});
  Tensor equal = i == labels;
  CHECK(equal.dtype() == DType::UInt8);
  CHECK(equal.to_vector<uint8_t>() == std::vector<uint8_t>{1, 1, 0, 1});
  CHECK(equal.sum().item<int64_t>() == 3);  // the accuracy-count pattern
  CHECK((floats({1, 2}, {2}) == floats({1, 3}, {2})).to_vector<uint8_t>() == std::vector<uint8_t>{1, 0});
  WISP_REQUIRE_ERROR(i / i, "div", "float32", "int64");
}

TEST_CASE("integer arithmetic wraps around as PyTorch's (no undefined overflow)", "[layers][elementwise]") {
  constexpr int32_t kInt32Max = std::numeric_limits<int32_t>::max();
  constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max(), kInt64Min = std::numeric_limits<int64_t>::min();
  const Tensor i32 = from_vector(std::vector<int32_t>{kInt32Max, -2});
  CHECK((i32 + i32).to_vector<int32_t>() == std::vector<int32_t>{-2, -4});
  const Tensor i64 = from_vector(std::vector<int64_t>{kInt64Max, kInt64Min, 5});
  CHECK((i64 * 2.0).to_vector<int64_t>() == std::vector<int64_t>{-2, 0, 10});
  CHECK((i64 - 1.0).to_vector<int64_t>() == std::vector<int64_t>{kInt64Max - 1, kInt64Max, 4});
  CHECK((-i64).to_vector<int64_t>() == std::vector<int64_t>{-kInt64Max, kInt64Min, -5});
  // uint8 negates modulo 256 (PyTorch: tensor([255, 0, 56], dtype=torch.uint8)).
  CHECK((-from_vector(std::vector<uint8_t>{1, 0, 200})).to_vector<uint8_t>() == std::vector<uint8_t>{255, 0, 56});
  CHECK(from_vector(std::vector<int64_t>{kInt64Max, 1}).sum().item<int64_t>() == kInt64Min);
  CHECK(from_vector(std::vector<int64_t>{kInt64Max, 1, kInt64Min, -1}, {2, 2}).sum(1).to_vector<int64_t>() ==
        std::vector<int64_t>{kInt64Min, kInt64Max});
}

TEST_CASE("unary ops name themselves in errors, not their tape entries", "[layers][elementwise]") {
  const Tensor i = arange(3, DType::Int64);
  WISP_REQUIRE_ERROR(exp(i), "exp: expected input of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(relu(i), "relu: expected input of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(sqrt(Tensor()), "sqrt: expected a defined tensor");
}

TEST_CASE("broadcast and bias gradients sum in double (a float total stalls at 2^24 times a term)",
          "[layers][elementwise]") {
  // Column sums of g [1001, 2]: the first row 2^24, 1000 rows of 1. A float total stays at 2^24.
  std::vector<float> g(2002, 1.0f);
  g[0] = g[1] = 16777216.0f;
  const Tensor upstream = from_vector(g, {1001, 2});
  const Tensor b = zeros({2}).set_requires_grad(true);
  (zeros({1001, 2}) + b).backward(upstream);
  CHECK(b.grad().to_vector<float>() == std::vector<float>{16778216.0f, 16778216.0f});
  const Tensor bias = zeros({2}).set_requires_grad(true);
  linear(zeros({1001, 3}), zeros({2, 3}), bias).backward(upstream);
  CHECK(bias.grad().to_vector<float>() == std::vector<float>{16778216.0f, 16778216.0f});
}

TEST_CASE("binary op errors name the shapes and dtypes", "[layers][elementwise]") {
  WISP_REQUIRE_ERROR(zeros({2, 3}) + zeros({4}), "add", "[2, 3]", "[4]", "cannot be broadcast");
  WISP_REQUIRE_ERROR(zeros({2}) * zeros({2}, DType::Int64), "mul", "same dtype", "float32", "int64");
  WISP_REQUIRE_ERROR(zeros({2}) == zeros({3}), "eq", "[2]", "[3]");
  WISP_REQUIRE_ERROR(Tensor() + zeros({1}), "undefined");
}

TEST_CASE("gradients of binary arithmetic with broadcasting", "[layers][elementwise]") {
  manual_seed(7);
  auto positive = [](const Shape& shape) { return rand(shape) + 0.5; };
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return in[0] + in[1]; }, {randn({2, 3}), randn({3})});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return in[0] - in[1]; },
                         {randn({2, 1, 3}), randn({4, 1})});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return in[0] * in[1]; }, {randn({3, 1}), randn({1, 4})});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return in[0] / in[1]; },
                         {randn({2, 3}), positive({2, 3})});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return in[0] / in[1]; }, {randn({2, 3}), positive({})});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return in[0] * in[0]; }, {randn({5})});
}

TEST_CASE("gradients of scalar arithmetic and unary functions", "[layers][elementwise]") {
  manual_seed(8);
  Tensor positive = rand({2, 3}) + 0.5;
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return 3.0 - in[0] * 2.0 + 1.0; }, {randn({4})});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return in[0] / 4.0 + 2.0 / in[0]; }, {positive});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return -in[0]; }, {randn({3})});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return exp(in[0]); }, {randn({3})});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return log(in[0]); }, {positive});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return sqrt(in[0]); }, {positive});
  // ReLU away from its kink at 0.
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return relu(in[0]); },
                         {from_vector(std::vector<float>{-1.5f, -0.3f, 0.4f, 2.0f})});
}

TEST_CASE("exact gradients of exp, log, sqrt, div and sub", "[layers][elementwise]") {
  // check_gradients accepts errors of about 1%; these values must be exact (up to float rounding).
  const std::vector<float> points{0.25f, 1.0f, 4.0f};
  const auto gradient_of = [&](const std::function<Tensor(const Tensor&)>& function) {
    Tensor x = from_vector(points);
    x.set_requires_grad(true);
    function(x).sum().backward();
    return values(x.grad());
  };
  const auto close = [](const std::vector<float>& actual, const std::vector<double>& expected) {
    REQUIRE(actual.size() == expected.size());
    for (size_t i = 0; i < actual.size(); ++i) CHECK(actual[i] == Approx(expected[i]).epsilon(1e-6));
  };
  close(gradient_of([](const Tensor& x) { return exp(x); }), {std::exp(0.25), std::exp(1.0), std::exp(4.0)});
  close(gradient_of([](const Tensor& x) { return log(x); }), {4.0, 1.0, 0.25});
  close(gradient_of([](const Tensor& x) { return sqrt(x); }), {1.0, 0.5, 0.25});  // 1 / (2 sqrt(x))
  const Tensor three = full({3}, 3.0);
  close(gradient_of([&](const Tensor& x) { return div(x, three); }), {1.0 / 3, 1.0 / 3, 1.0 / 3});
  close(gradient_of([&](const Tensor& x) { return div(three, x); }), {-48.0, -3.0, -3.0 / 16});  // -3 / x²
  close(gradient_of([&](const Tensor& x) { return sub(three, x); }), {-1.0, -1.0, -1.0});
  close(gradient_of([](const Tensor& x) { return neg(x) * x; }), {-0.5, -2.0, -8.0});  // -2x
  WISP_REQUIRE_ERROR(exp(arange(3, DType::Int64)), "float32", "int64");
}

TEST_CASE("relu passes no gradient at or below zero", "[layers][elementwise]") {
  Tensor x = from_vector(std::vector<float>{-1, 0, 1});
  x.set_requires_grad(true);
  relu(x).sum().backward();
  CHECK(values(x.grad()) == std::vector<float>{0, 0, 1});
}

TEST_CASE("integer tensors take whole scalars they can hold, and refuse others", "[layers][elementwise]") {
  // An integer tensor keeps its dtype with a scalar, so 0.5 would silently become 0.
  const Tensor ints = from_vector(std::vector<int64_t>{1, 2, 3});
  CHECK((ints * 2.0).to_vector<int64_t>() == std::vector<int64_t>{2, 4, 6});
  CHECK((ints + 1.0).dtype() == DType::Int64);
  WISP_REQUIRE_ERROR(ints * 0.5, "mul", "scalar 0.5", "int64", "to(DType::Float32)");
  WISP_REQUIRE_ERROR(ints + 2.7, "add", "scalar 2.7");
  WISP_REQUIRE_ERROR(from_vector(std::vector<uint8_t>{1}) + 300.0, "add", "scalar 300", "uint8");
  WISP_REQUIRE_ERROR(ints.clone().add_(ints, 0.5), "scalar 0.5");
  WISP_REQUIRE_ERROR(ints.clone().mul_(0.5), "mul", "scalar 0.5");
  CHECK(values(ints.to(DType::Float32) * 0.5) == std::vector<float>{0.5f, 1.0f, 1.5f});
}

TEST_CASE("relu keeps NaN and -0 and passes NaN's gradient, as PyTorch", "[layers][elementwise]") {
  // torch.relu(tensor([nan, -0., -1., 2.])) = [nan, -0., 0., 2.]; its gradient is [1, 0, 0, 1].
  Tensor x = from_vector(std::vector<float>{std::nanf(""), -0.0f, -1, 2});
  x.set_requires_grad(true);
  const std::vector<float> y = values(relu(x));
  CHECK(std::isnan(y[0]));
  CHECK((y[1] == 0.0f && std::signbit(y[1])));
  CHECK(y[2] == 0.0f);
  CHECK(y[3] == 2.0f);
  relu(x).sum().backward();
  CHECK(values(x.grad()) == std::vector<float>{1, 0, 0, 1});
}

// ---- activations -----------------------------------------------------------------------------------

namespace {
// gelu(x) = x Φ(x) and its tanh form, in double.
double reference_gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double reference_gelu_tanh(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
void require_values(const Tensor& actual, const std::vector<double>& expected, double tolerance) {
  const std::vector<float> got = values(actual);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": " << got[i] << " vs " << expected[i]);
    CHECK(std::abs(got[i] - expected[i]) <= tolerance * (1.0 + std::abs(expected[i])));
  }
}
// d/dx sum(f(x)) at `points`, by backward.
std::vector<float> gradient_at(const std::vector<float>& points, const std::function<Tensor(const Tensor&)>& f) {
  Tensor x = from_vector(points);
  x.set_requires_grad(true);
  f(x).sum().backward();
  return values(x.grad());
}
}  // namespace

TEST_CASE("tanh, sigmoid and gelu forward by hand", "[layers][elementwise][activation]") {
  const std::vector<float> points{-3.0f, -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 3.0f};
  const Tensor x = from_vector(points);
  std::vector<double> tanh_values, sigmoid_values, gelu_values, gelu_tanh_values;
  for (float p : points) {
    tanh_values.push_back(std::tanh(double(p)));
    sigmoid_values.push_back(1.0 / (1.0 + std::exp(-double(p))));
    gelu_values.push_back(reference_gelu(p));
    gelu_tanh_values.push_back(reference_gelu_tanh(p));
  }
  require_values(tanh(x), tanh_values, 1e-6);
  require_values(sigmoid(x), sigmoid_values, 1e-6);
  require_values(gelu(x), gelu_values, 1e-6);
  require_values(gelu(x, "tanh"), gelu_tanh_values, 1e-6);
  // PyTorch 1.13: gelu(tensor([-1., 0.5, 3.], dtype=float64)) and its tanh form.
  require_values(gelu(from_vector(std::vector<float>{-1.0f, 0.5f, 3.0f})), {-0.158655254, 0.345731231, 2.99595031},
                 1e-6);
  require_values(gelu(from_vector(std::vector<float>{-1.0f, 0.5f, 3.0f}), "tanh"),
                 {-0.158808009, 0.34571401, 2.99636261}, 1e-6);
  // Saturation: no NaN or inf far out.
  const Tensor far = from_vector(std::vector<float>{-200.0f, 200.0f});
  CHECK(values(sigmoid(far)) == std::vector<float>{0.0f, 1.0f});
  CHECK(values(tanh(far)) == std::vector<float>{-1.0f, 1.0f});
  CHECK(values(gelu(far)) == std::vector<float>{-0.0f, 200.0f});
  CHECK(values(x.tanh()) == values(tanh(x)));
  CHECK(values(x.sigmoid()) == values(sigmoid(x)));
  CHECK(tanh(x).grad_fn_name().empty());
}

TEST_CASE("activation gradients: exact values and check_gradients", "[layers][elementwise][activation]") {
  const std::vector<float> points{-3.0f, -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 3.0f};
  std::vector<double> tanh_gradient, sigmoid_gradient;
  for (float p : points) {
    const double t = std::tanh(double(p)), s = 1.0 / (1.0 + std::exp(-double(p)));
    tanh_gradient.push_back(1.0 - t * t);
    sigmoid_gradient.push_back(s * (1.0 - s));
  }
  const auto close = [](const std::vector<float>& actual, const std::vector<double>& expected, double epsilon) {
    REQUIRE(actual.size() == expected.size());
    for (size_t i = 0; i < actual.size(); ++i) CHECK(actual[i] == Approx(expected[i]).epsilon(epsilon).margin(1e-7));
  };
  close(gradient_at(points, [](const Tensor& x) { return tanh(x); }), tanh_gradient, 1e-5);
  close(gradient_at(points, [](const Tensor& x) { return sigmoid(x); }), sigmoid_gradient, 1e-5);
  // PyTorch 1.13's gradients of gelu at these points, exact and tanh forms (float64). At x = −3,
  // 1 + tanh(…) and 1 − tanh² (tanh ≈ −0.9976) lose about 9 bits in float32: PyTorch's float32
  // gradient there, −0.0115842968, is 1.1e-5 off as well.
  close(gradient_at(points, [](const Tensor& x) { return gelu(x); }),
        {-0.0119456472, -0.0833154706, 0.132504875, 0.5, 0.867495125, 1.08331547, 1.01194565}, 5e-5);
  close(gradient_at(points, [](const Tensor& x) { return gelu(x, "tanh"); }),
        {-0.0115841666, -0.0829640838, 0.132630096, 0.5, 0.867369904, 1.08296408, 1.01158417}, 5e-5);
  CHECK(tanh(from_vector(points).set_requires_grad(true)).grad_fn_name() == "TanhBackward");

  manual_seed(11);
  const Tensor x = randn({3, 4}) * 2.0;
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return tanh(in[0]); }, {x});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return sigmoid(in[0]); }, {x});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return gelu(in[0]); }, {x});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return gelu(in[0], "tanh"); }, {x});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return in[0].tanh() * in[0].sigmoid(); }, {x});
}

TEST_CASE("activation errors name the op and the problem", "[layers][elementwise][activation]") {
  const Tensor i = arange(3, DType::Int64);
  WISP_REQUIRE_ERROR(tanh(i), "tanh: expected input of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(sigmoid(Tensor()), "sigmoid: expected a defined tensor");
  WISP_REQUIRE_ERROR(gelu(zeros({2}), "tan"), "gelu: expected approximate 'none' or 'tanh' but got 'tan'");
}

// ---- abs and clamp ---------------------------------------------------------------------------------

TEST_CASE("abs: values, integers, and the gradient sign(x) with 0 at 0 and NaN", "[layers][elementwise]") {
  Tensor x = from_vector(std::vector<float>{std::nanf(""), 0.0f, -0.0f, -2.0f, 3.0f});
  x.set_requires_grad(true);
  const std::vector<float> y = values(abs(x));
  CHECK(std::isnan(y[0]));
  CHECK(std::vector<float>(y.begin() + 1, y.end()) == std::vector<float>{0, 0, 2, 3});
  CHECK(!std::signbit(y[2]));
  x.abs().sum().backward();
  // PyTorch 1.13: tensor([0., 0., 0., -1., 1.]).
  CHECK(values(x.grad()) == std::vector<float>{0, 0, 0, -1, 1});
  constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
  CHECK(abs(from_vector(std::vector<int64_t>{-3, 0, 4, kInt64Min})).to_vector<int64_t>() ==
        std::vector<int64_t>{3, 0, 4, kInt64Min});
  CHECK(abs(from_vector(std::vector<uint8_t>{0, 200})).to_vector<uint8_t>() == std::vector<uint8_t>{0, 200});
  manual_seed(12);
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return abs(in[0]); },
                         {from_vector(std::vector<float>{-1.5f, -0.3f, 0.4f, 2.0f})});
}

TEST_CASE("clamp: bounds, one-sided, min > max and NaN as PyTorch", "[layers][elementwise]") {
  const Tensor x = from_vector(std::vector<float>{-1.0f, 0.0f, 0.5f, 1.0f, 2.0f, std::nanf("")});
  std::vector<float> y = values(clamp(x, 0.0, 1.0));
  CHECK(std::isnan(y.back()));
  y.pop_back();
  CHECK(y == std::vector<float>{0, 0, 0.5f, 1, 1});
  y = values(x.clamp(std::nullopt, 0.5));
  y.pop_back();
  CHECK(y == std::vector<float>{-1, 0, 0.5f, 0.5f, 0.5f});
  y = values(x.clamp(0.5));
  y.pop_back();
  CHECK(y == std::vector<float>{0.5f, 0.5f, 0.5f, 1, 2});
  // min > max: every number becomes max, NaN stays (PyTorch: clamp(min=1.5, max=0.5) gives 0.5 but nan).
  y = values(clamp(x, 1.5, 0.5));
  CHECK(std::isnan(y.back()));
  y.pop_back();
  CHECK(y == std::vector<float>(5, 0.5f));
  CHECK(clamp(from_vector(std::vector<int64_t>{-5, 3, 9}), 0.0, 4.0).to_vector<int64_t>() ==
        std::vector<int64_t>{0, 3, 4});
  CHECK(clamp(from_vector(std::vector<int64_t>{-5, 3, 9}), std::nullopt, 4.0).to_vector<int64_t>() ==
        std::vector<int64_t>{-5, 3, 4});
  const float infinity = std::numeric_limits<float>::infinity();
  CHECK(values(clamp(from_vector(std::vector<float>{-infinity, infinity}), -1.0)) ==
        std::vector<float>{-1.0f, infinity});
}

TEST_CASE("clamp passes the gradient where min <= x <= max, bounds included", "[layers][elementwise]") {
  Tensor x = from_vector(std::vector<float>{-1.0f, 0.0f, 0.5f, 1.0f, 2.0f, std::nanf("")});
  x.set_requires_grad(true);
  clamp(x, 0.0, 1.0).sum().backward();
  // PyTorch 1.13: tensor([0., 1., 1., 1., 0., 0.]).
  CHECK(values(x.grad()) == std::vector<float>{0, 1, 1, 1, 0, 0});
  Tensor z = from_vector(std::vector<float>{-1.0f, 0.0f, 0.5f, 1.0f, 2.0f});
  z.set_requires_grad(true);
  clamp(z, 1.5, 0.5).sum().backward();
  CHECK(values(z.grad()) == std::vector<float>{0, 0, 0, 0, 0});
  CHECK(clamp(z, 0.0).grad_fn_name() == "ClampBackward");
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return clamp(in[0], -0.5, 0.75) * in[0]; },
                         {from_vector(std::vector<float>{-1.5f, -0.3f, 0.4f, 2.0f, 0.1f})});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return clamp(in[0], std::nullopt, 0.2); },
                         {from_vector(std::vector<float>{-1.5f, -0.3f, 0.4f, 2.0f})});
}

TEST_CASE("clamp errors state what was expected", "[layers][elementwise]") {
  const Tensor ints = from_vector(std::vector<int64_t>{1, 2});
  WISP_REQUIRE_ERROR(clamp(zeros({2}), std::nullopt, std::nullopt),
                     "clamp: expected at least one of min and max but got neither");
  WISP_REQUIRE_ERROR(clamp(zeros({2}), std::nan("")), "clamp: expected bounds that are not NaN");
  WISP_REQUIRE_ERROR(clamp(ints, 0.5), "clamp: the bound 0.5 cannot clamp a tensor of dtype int64");
  WISP_REQUIRE_ERROR(clamp(zeros({2}), 1e40), "clamp", "1e+40", "outside the range of float32");
}

// ---- comparisons and where -------------------------------------------------------------------------

TEST_CASE("comparisons: tensor-tensor with broadcasting and tensor-scalar, UInt8 results", "[layers][elementwise]") {
  const Tensor a = from_vector(std::vector<float>{1, 2, 3, std::nanf("")});
  const Tensor b = from_vector(std::vector<float>{2, 2, 2, 2});
  const auto u8 = [](const Tensor& t) {
    CHECK(t.dtype() == DType::UInt8);
    return t.to_vector<uint8_t>();
  };
  using V = std::vector<uint8_t>;
  CHECK(u8(a > b) == V{0, 0, 1, 0});
  CHECK(u8(a < b) == V{1, 0, 0, 0});
  CHECK(u8(a >= b) == V{0, 1, 1, 0});
  CHECK(u8(a <= b) == V{1, 1, 0, 0});
  CHECK(u8(a == b) == V{0, 1, 0, 0});
  CHECK(u8(a != b) == V{1, 0, 1, 1});  // NaN is unequal to everything
  CHECK(u8(a > 2.0) == V{0, 0, 1, 0});
  CHECK(u8(a < 2.0) == V{1, 0, 0, 0});
  CHECK(u8(a >= 2.0) == V{0, 1, 1, 0});
  CHECK(u8(a <= 2.0) == V{1, 1, 0, 0});
  CHECK(u8(a == 2.0) == V{0, 1, 0, 0});
  CHECK(u8(a != 2.0) == V{1, 0, 1, 1});
  CHECK(u8(2.0 < a) == V{0, 0, 1, 0});  // mirrored: 2 < a is a > 2
  CHECK(u8(2.0 >= a) == V{1, 1, 0, 0});
  CHECK(u8(gt(a, b)) == u8(a > b));
  CHECK(u8(le(a, 2.0)) == u8(a <= 2.0));
  // A float32 tensor compares with float32(s), as PyTorch: 0.1f == 0.1.
  CHECK(u8(from_vector(std::vector<float>{0.1f}) == 0.1) == V{1});
  // Broadcasting [2, 1] against [3] and integer operands.
  const Tensor column = from_vector(std::vector<int64_t>{1, 3}, {2, 1});
  const Tensor row = from_vector(std::vector<int64_t>{0, 1, 2});
  const Tensor greater = column > row;
  CHECK(greater.shape() == Shape{2, 3});
  CHECK(u8(greater) == V{1, 0, 0, 1, 1, 1});
  CHECK(u8(row >= 1.0) == V{0, 1, 1});
  CHECK((a > 1.5).sum().item<int64_t>() == 2);  // counting pattern
}

TEST_CASE("comparison errors name the op, shapes and dtypes", "[layers][elementwise]") {
  WISP_REQUIRE_ERROR(zeros({2}) > zeros({3}), "gt", "[2]", "[3]");
  WISP_REQUIRE_ERROR(zeros({2}) <= zeros({2}, DType::Int64), "le", "same dtype", "float32", "int64");
  WISP_REQUIRE_ERROR(arange(3, DType::Int64) < 0.5,
                     "lt: the scalar 0.5 cannot be compared with a tensor of dtype int64");
  WISP_REQUIRE_ERROR(Tensor() >= 1.0, "ge: expected a defined tensor");
}

TEST_CASE("where: selection with broadcasting and scalars", "[layers][elementwise]") {
  const Tensor condition = from_vector(std::vector<uint8_t>{1, 0, 1}, {3});
  const Tensor a = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = from_vector(std::vector<float>{-1, -2}, {2, 1});
  const Tensor out = where(condition, a, b);
  REQUIRE(out.shape() == Shape{2, 3});
  CHECK(values(out) == std::vector<float>{1, -1, 3, 4, -2, 6});
  CHECK(values(where(a > 3.0, a, 0.0)) == std::vector<float>{0, 0, 0, 4, 5, 6});
  CHECK(values(where(a > 3.0, 0.0, a)) == std::vector<float>{1, 2, 3, 0, 0, 0});
  CHECK(where(condition, arange(3, DType::Int64), -1.0).to_vector<int64_t>() == std::vector<int64_t>{0, -1, 2});
  // A [2, 1, 1] condition, [3] and [4, 1] values broadcast to [2, 4, 3].
  const Tensor c3 = from_vector(std::vector<uint8_t>{0, 1}, {2, 1, 1});
  const Tensor wide = where(c3, arange(3).view({3}), arange(4).view({4, 1}) * 10.0);
  REQUIRE(wide.shape() == Shape{2, 4, 3});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 3; ++k) CHECK(wide.at<float>(i, j, k) == (i == 1 ? float(k) : float(j * 10)));
}

TEST_CASE("where sends the gradient to a where the condition holds and to b elsewhere", "[layers][elementwise]") {
  const Tensor condition = from_vector(std::vector<uint8_t>{1, 0, 1, 0, 0, 1}, {2, 3});
  Tensor a = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector(std::vector<float>{7, 8, 9}, {3});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  const Tensor out = where(condition, a, b);
  CHECK(out.grad_fn_name() == "WhereBackward");
  out.backward(from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}));
  CHECK(values(a.grad()) == std::vector<float>{1, 0, 3, 0, 0, 6});
  CHECK(values(b.grad()) == std::vector<float>{4, 7, 0});  // summed over the broadcast rows
  manual_seed(13);
  const Tensor mask = randn({3, 4}) > 0.0;
  WISP_REQUIRE_GRADIENTS([&](const std::vector<Tensor>& in) { return where(mask, in[0], in[1]) * in[0]; },
                         {randn({3, 4}), randn({4})});
  WISP_REQUIRE_GRADIENTS([&](const std::vector<Tensor>& in) { return where(mask, in[0], 1.5); }, {randn({3, 4})});
  WISP_REQUIRE_ERROR(where(zeros({3}), a, b), "where: expected condition of dtype uint8 but got float32");
  WISP_REQUIRE_ERROR(where(condition, a, arange(3, DType::Int64)), "where: expected both values of the same dtype");
  WISP_REQUIRE_ERROR(where(condition, arange(3, DType::Int64), 0.5), "where: value 0.5 cannot be converted to int64");
  WISP_REQUIRE_ERROR(where(condition, zeros({4}), b), "where", "[4]", "[3]");
}
