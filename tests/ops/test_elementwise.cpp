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
