// [cuda] The elementwise CUDA twins (kernels/cuda/elementwise.cu) against their CPU twins on the
// same random inputs: add/sub/mul/div with broadcasting, scalars, unary ops, the ReLU backward,
// comparison, casts, fill and sum_to_shape, through the public ops. Tolerances: exact for
// add/sub/mul/div/neg/relu/compare/cast/fill (one IEEE operation per element on both sides);
// 2 ulp-ish (1e-6 relative) for exp/log/sqrt, whose CUDA implementations differ from glibc's in the
// last bits; 1e-5 relative for sum_to_shape (double sums: the block-per-output and single-output
// paths add in another order). Runs only with a GPU.
#include <cmath>
#include <limits>
#include <vector>

#include "test_helpers.h"
#include "wisp/kernels/elementwise.h"

using namespace wisp;
using wisp::testing::require_close;

namespace {

const Device kGpu = Device::cuda(0);

// CPU result vs CUDA result of `op` applied to the same inputs (moved to the GPU).
template <class Op>
void check_twins(Op op, const std::vector<Tensor>& inputs, float tolerance) {
  std::vector<Tensor> on_gpu;
  for (const Tensor& t : inputs) on_gpu.push_back(t.to(kGpu));
  const Tensor expected = op(inputs);
  const Tensor actual = op(on_gpu);
  REQUIRE(actual.is_cuda());
  REQUIRE(actual.dtype() == expected.dtype());
  if (expected.dtype() == DType::Float32) {
    require_close(actual.cpu(), expected, tolerance);
  } else if (expected.dtype() == DType::UInt8) {
    CHECK(actual.to_vector<uint8_t>() == expected.to_vector<uint8_t>());
  } else {
    CHECK(actual.to_vector<int64_t>() == expected.to_vector<int64_t>());
  }
}

}  // namespace

TEST_CASE("CUDA binary ops with broadcasting match the CPU", "[cuda][elementwise]") {
  manual_seed(1);
  const std::vector<std::pair<Shape, Shape>> shapes = {{{1000}, {1000}},    {{64, 300}, {300}}, {{64, 300}, {64, 1}},
                                                       {{3, 1, 5}, {4, 1}}, {{7}, {}},          {{0, 3}, {3}}};
  for (const auto& [a_shape, b_shape] : shapes) {
    INFO("shapes " << a_shape << " and " << b_shape);
    const Tensor a = randn(a_shape), b = rand(b_shape) + 0.5;
    check_twins([](const std::vector<Tensor>& t) { return t[0] + t[1]; }, {a, b}, 0.0f);
    check_twins([](const std::vector<Tensor>& t) { return t[0] - t[1]; }, {a, b}, 0.0f);
    check_twins([](const std::vector<Tensor>& t) { return t[0] * t[1]; }, {a, b}, 0.0f);
    check_twins([](const std::vector<Tensor>& t) { return t[0] / t[1]; }, {a, b}, 0.0f);
  }
  const Tensor i = randint(-50, 50, {500}, DType::Int64), j = randint(-50, 50, {500}, DType::Int64);
  check_twins([](const std::vector<Tensor>& t) { return t[0] * t[1] + t[0]; }, {i, j}, 0.0f);
}

TEST_CASE("CUDA scalar, unary and ReLU-backward ops match the CPU", "[cuda][elementwise]") {
  manual_seed(2);
  const Tensor x = randn({129, 257});
  const Tensor positive = rand({129, 257}) + 0.01;
  check_twins([](const std::vector<Tensor>& t) { return t[0] * 2.5 + 1.0; }, {x}, 0.0f);
  check_twins([](const std::vector<Tensor>& t) { return 3.0 - t[0]; }, {x}, 0.0f);
  check_twins([](const std::vector<Tensor>& t) { return -t[0]; }, {x}, 0.0f);
  check_twins([](const std::vector<Tensor>& t) { return relu(t[0]); }, {x}, 0.0f);
  check_twins([](const std::vector<Tensor>& t) { return exp(t[0]); }, {x}, 1e-6f);
  check_twins([](const std::vector<Tensor>& t) { return log(t[0]); }, {positive}, 1e-6f);
  check_twins([](const std::vector<Tensor>& t) { return sqrt(t[0]); }, {positive}, 1e-6f);
  check_twins([](const std::vector<Tensor>& t) { return kernels::relu_backward(t[1], t[0]); }, {x, randn(x.shape())},
              0.0f);
}

TEST_CASE("CUDA comparison, casts, fill and sum_to_shape match the CPU", "[cuda][elementwise]") {
  manual_seed(3);
  const Tensor a = randint(0, 5, {40, 30}, DType::Int64), b = randint(0, 5, {30}, DType::Int64);
  check_twins([](const std::vector<Tensor>& t) { return t[0] == t[1]; }, {a, b}, 0.0f);
  const Tensor x = randn({40, 30}) * 10.0;
  check_twins([](const std::vector<Tensor>& t) { return t[0].to(DType::Int64); }, {x}, 0.0f);
  check_twins([](const std::vector<Tensor>& t) { return t[0].to(DType::Float32); }, {a}, 0.0f);
  const Tensor on_gpu = zeros({300}, kGpu);
  on_gpu.fill_(4.25);
  CHECK(on_gpu.to_vector<float>() == std::vector<float>(300, 4.25f));
  for (const Shape& target : {Shape{30}, Shape{40, 1}, Shape{1}}) {
    INFO("sum to " << target);
    check_twins([&](const std::vector<Tensor>& t) { return kernels::sum_to_shape(t[0], target); }, {x}, 1e-5f);
  }
  // Few outputs with many summands each take a block per output (kernels/cuda/elementwise.cu).
  const Tensor long_rows = randn({3000, 7});
  for (const Shape& target : {Shape{7}, Shape{1}, Shape{}}) {
    INFO("sum of 3000 x 7 to " << target);
    check_twins([&](const std::vector<Tensor>& t) { return kernels::sum_to_shape(t[0], target); }, {long_rows}, 1e-4f);
  }
}

TEST_CASE("CUDA broadcast and bias gradients sum in double, integers wrap", "[cuda][elementwise]") {
  // Column sums of g [1001, 2]: the first row 2^24, 1000 rows of 1 (a float total stays at 2^24).
  std::vector<float> g(2002, 1.0f);
  g[0] = g[1] = 16777216.0f;
  const Tensor upstream = from_vector(g, {1001, 2}).to(kGpu);
  const Tensor b = zeros({2}, kGpu).set_requires_grad(true);
  (zeros({1001, 2}, kGpu) + b).backward(upstream);
  CHECK(b.grad().cpu().to_vector<float>() == std::vector<float>{16778216.0f, 16778216.0f});
  const Tensor bias = zeros({2}, kGpu).set_requires_grad(true);
  linear(zeros({1001, 3}, kGpu), zeros({2, 3}, kGpu), bias).backward(upstream);
  CHECK(bias.grad().cpu().to_vector<float>() == std::vector<float>{16778216.0f, 16778216.0f});
  // One output from many summands: the block-per-output kernel.
  CHECK(kernels::sum_to_shape(upstream, Shape{1}).cpu().item<float>() == 2.0f * 16778216.0f);

  constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max(), kInt64Min = std::numeric_limits<int64_t>::min();
  const Tensor i64 = from_vector(std::vector<int64_t>{kInt64Max, kInt64Min, 5}).to(kGpu);
  CHECK((i64 + 1.0).cpu().to_vector<int64_t>() == std::vector<int64_t>{kInt64Min, kInt64Min + 1, 6});
  CHECK((-i64).cpu().to_vector<int64_t>() == std::vector<int64_t>{-kInt64Max, kInt64Min, -5});
  CHECK((-from_vector(std::vector<uint8_t>{1, 0, 200}).to(kGpu)).cpu().to_vector<uint8_t>() ==
        std::vector<uint8_t>{255, 0, 56});
  CHECK(from_vector(std::vector<int64_t>{kInt64Max, 1}).to(kGpu).sum().cpu().item<int64_t>() == kInt64Min);
}

TEST_CASE("CUDA elementwise ops keep their errors: mixed devices are named", "[cuda][elementwise]") {
  WISP_REQUIRE_ERROR(zeros({3}) + zeros({3}, kGpu), "cpu", "cuda:0");
}
