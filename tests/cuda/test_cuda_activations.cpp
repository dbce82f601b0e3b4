// [cuda] The activation and selection twins against their CPU twins on the same inputs: tanh,
// sigmoid, gelu (both forms), abs and their backward (kernels/cuda/elementwise.cu), the comparisons,
// where and clamp with their gradients, softmax and its backward (kernels/cuda/loss.cu), and the
// Bernoulli draws (kernels/cuda/random.cu), which must be the CPU's numbers exactly. Tolerances:
// exact for comparisons, where, clamp, abs and the draws (no arithmetic, or one IEEE operation);
// 1e-6 relative for tanh, sigmoid and gelu, whose CUDA tanhf/expf/erff differ from glibc's in the
// last bits; 1e-5 for softmax (double sums in another order). Runs only with a GPU.
#include <vector>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::require_close;

namespace {

const Device kGpu = Device::cuda(0);

// f on the CPU and on the GPU: the values, and when the output is float32 the gradients of the
// float32 inputs for one random upstream gradient.
template <class F>
void check_twins(F f, const std::vector<Tensor>& inputs, float tolerance) {
  std::vector<Tensor> cpu_inputs, gpu_inputs;
  for (const Tensor& input : inputs) {
    const bool differentiable = input.dtype() == DType::Float32;
    cpu_inputs.push_back(differentiable ? input.clone().set_requires_grad(true) : input);
    gpu_inputs.push_back(differentiable ? input.to(kGpu).set_requires_grad(true) : input.to(kGpu));
  }
  const Tensor cpu_out = f(cpu_inputs), gpu_out = f(gpu_inputs);
  REQUIRE(gpu_out.is_cuda());
  REQUIRE(gpu_out.dtype() == cpu_out.dtype());
  if (cpu_out.dtype() != DType::Float32) {
    CHECK(gpu_out.cpu().to(DType::Int64).to_vector<int64_t>() == cpu_out.to(DType::Int64).to_vector<int64_t>());
    return;
  }
  require_close(gpu_out.cpu(), cpu_out, tolerance);
  if (!cpu_out.requires_grad()) return;
  const Tensor upstream = randn(cpu_out.shape());
  cpu_out.backward(upstream);
  gpu_out.backward(upstream.to(kGpu));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!cpu_inputs[i].requires_grad()) continue;
    INFO("gradient of input " << i);
    require_close(gpu_inputs[i].grad().cpu(), cpu_inputs[i].grad(), tolerance);
  }
}

}  // namespace

TEST_CASE("CUDA tanh, sigmoid, gelu and abs match the CPU, forward and backward", "[cuda][activation]") {
  manual_seed(41);
  const Tensor x = randn({129, 257}) * 3.0;
  check_twins([](const std::vector<Tensor>& t) { return tanh(t[0]); }, {x}, 1e-6f);
  check_twins([](const std::vector<Tensor>& t) { return sigmoid(t[0]); }, {x}, 1e-6f);
  check_twins([](const std::vector<Tensor>& t) { return gelu(t[0]); }, {x}, 1e-6f);
  check_twins([](const std::vector<Tensor>& t) { return gelu(t[0], "tanh"); }, {x}, 1e-6f);
  check_twins([](const std::vector<Tensor>& t) { return abs(t[0]); }, {x}, 0.0f);
  check_twins([](const std::vector<Tensor>& t) { return abs(t[0]); }, {randint(-9, 9, {300}, DType::Int64)}, 0.0f);
}

TEST_CASE("CUDA comparisons, where and clamp match the CPU", "[cuda][activation]") {
  manual_seed(42);
  const Tensor a = randint(0, 4, {40, 30}).to(DType::Float32), b = randint(0, 4, {30}).to(DType::Float32);
  check_twins([](const std::vector<Tensor>& t) { return t[0] > t[1]; }, {a, b}, 0.0f);
  check_twins([](const std::vector<Tensor>& t) { return t[0] <= t[1]; }, {a, b}, 0.0f);
  check_twins([](const std::vector<Tensor>& t) { return t[0] != t[1]; }, {a, b}, 0.0f);
  check_twins([](const std::vector<Tensor>& t) { return t[0] >= 2.0; }, {a}, 0.0f);
  check_twins([](const std::vector<Tensor>& t) { return 2.0 > t[0]; }, {a}, 0.0f);
  const Tensor i = randint(-5, 5, {500}, DType::Int64);
  check_twins([](const std::vector<Tensor>& t) { return t[0] < 1.0; }, {i}, 0.0f);

  const Tensor x = randn({40, 30}), y = randn({40, 1});
  const Tensor condition = randn({30}) > 0.0;
  check_twins([&](const std::vector<Tensor>& t) { return where(t[2], t[0], t[1]); }, {x, y, condition}, 0.0f);
  check_twins([&](const std::vector<Tensor>& t) { return where(t[1], t[0], 0.5); }, {x, randn({2, 1, 1}) > 0.0},
              0.0f);  // three-way broadcast to [2, 40, 30]
  check_twins([](const std::vector<Tensor>& t) { return clamp(t[0], -0.5, 0.5); }, {x}, 0.0f);
  check_twins([](const std::vector<Tensor>& t) { return clamp(t[0], std::nullopt, 0.25); }, {x}, 0.0f);
  check_twins([](const std::vector<Tensor>& t) { return clamp(t[0], -2.0, 3.0); }, {i}, 0.0f);
}

TEST_CASE("CUDA softmax matches the CPU over every dimension", "[cuda][activation]") {
  manual_seed(43);
  const Tensor x = randn({6, 10, 7}) * 5.0;
  for (int64_t dim = 0; dim < 3; ++dim) {
    INFO("dim " << dim);
    check_twins([dim](const std::vector<Tensor>& t) { return softmax(t[0], dim); }, {x}, 1e-5f);
  }
}

TEST_CASE("CUDA Bernoulli draws and dropout masks are the CPU's numbers", "[cuda][activation]") {
  const Tensor p = rand({300, 301});
  manual_seed(44);
  const Tensor on_cpu = bernoulli(p);
  const Tensor scalar_on_cpu = bernoulli(p, 0.3);
  const Tensor dropped_on_cpu = dropout(ones({1000}), 0.4);
  manual_seed(44);
  const Tensor on_gpu = bernoulli(p.to(kGpu));
  const Tensor scalar_on_gpu = bernoulli(p.to(kGpu), 0.3);
  const Tensor dropped_on_gpu = dropout(ones({1000}, kGpu), 0.4);
  REQUIRE(on_gpu.is_cuda());
  CHECK(on_gpu.cpu().to_vector<float>() == on_cpu.to_vector<float>());
  CHECK(scalar_on_gpu.cpu().to_vector<float>() == scalar_on_cpu.to_vector<float>());
  CHECK(dropped_on_gpu.cpu().to_vector<float>() == dropped_on_cpu.to_vector<float>());
  WISP_REQUIRE_ERROR(bernoulli(full({3}, 2.0, kGpu)), "bernoulli: expected probabilities in [0, 1]");
}
