// [cuda] The elementwise CUDA twins (kernels/cuda/elementwise.cu) against their CPU twins on the
// same random inputs: add/sub/mul/div with broadcasting, scalars, unary ops, the ReLU backward,
// comparison, casts, fill and sum_to_shape, through the public ops. Tolerances: exact for
// add/sub/mul/div/neg/relu/compare/cast/fill (one IEEE operation per element on both sides);
// 2 ulp-ish (1e-6 relative) for exp/log/sqrt, whose CUDA implementations differ from glibc's in the
// last bits; 1e-5 relative for sum_to_shape (float sums in another order). Runs only with a GPU.
#include <cmath>

#include "kernels/elementwise.h"
#include "test_helpers.h"

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
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{1000}, {1000}}, {{64, 300}, {300}}, {{64, 300}, {64, 1}}, {{3, 1, 5}, {4, 1}}, {{7}, {}}, {{0, 3}, {3}}};
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
    check_twins([&](const std::vector<Tensor>& t) { return kernels::sum_to_shape(t[0], target); }, {long_rows},
                1e-4f);
  }
}

TEST_CASE("CUDA elementwise ops keep their errors: mixed devices are named", "[cuda][elementwise]") {
  WISP_REQUIRE_ERROR(zeros({3}) + zeros({3}, kGpu), "cpu", "cuda:0");
}
