// [cuda] The dense products on the GPU (kernels/cuda/linear.cu: cuBLAS SGEMM in FP32 mode) against
// the CPU's Eigen: matmul in all four transpose combinations, linear with and without bias, and
// every gradient of linear. Tolerance 1e-4 relative: both sum k float products in different orders
// (k up to 2000 here); the bias gradient sums in the CPU's order and is exact. Runs only with a GPU.
#include "test_helpers.h"
#include "wisp/kernels/linear.h"

using namespace wisp;
using wisp::testing::require_close;

namespace {
const Device kGpu = Device::cuda(0);
}  // namespace

TEST_CASE("cuBLAS matmul matches the CPU in every transpose combination", "[cuda][linear]") {
  manual_seed(7);
  const int64_t n = 37, k = 2000, m = 129;
  for (bool transpose_a : {false, true}) {
    for (bool transpose_b : {false, true}) {
      INFO("transpose_a " << transpose_a << ", transpose_b " << transpose_b);
      const Tensor a = transpose_a ? randn({k, n}) : randn({n, k});
      const Tensor b = transpose_b ? randn({m, k}) : randn({k, m});
      const Tensor expected = kernels::matmul(a, b, transpose_a, transpose_b);
      const Tensor actual = kernels::matmul(a.to(kGpu), b.to(kGpu), transpose_a, transpose_b);
      REQUIRE(actual.shape() == Shape{n, m});
      require_close(actual.cpu(), expected, 1e-4f);
    }
  }
  require_close(matmul(randn({0, 5}).to(kGpu), randn({5, 3}).to(kGpu)).cpu(), zeros({0, 3}), 0.0f);
  require_close(matmul(zeros({4, 0}).to(kGpu), zeros({0, 3}).to(kGpu)).cpu(), zeros({4, 3}), 0.0f);
}

TEST_CASE("linear on the GPU: forward and gradients match the CPU", "[cuda][linear]") {
  manual_seed(8);
  for (bool with_bias : {true, false}) {
    INFO("bias " << with_bias);
    const Tensor x = randn({64, 784}), w = randn({2000, 784}) * 0.03, b = randn({2000});
    const Tensor x_cpu = x.clone().set_requires_grad(true), w_cpu = w.clone().set_requires_grad(true);
    const Tensor b_cpu = with_bias ? b.clone().set_requires_grad(true) : Tensor();
    const Tensor x_gpu = x.to(kGpu).set_requires_grad(true), w_gpu = w.to(kGpu).set_requires_grad(true);
    const Tensor b_gpu = with_bias ? b.to(kGpu).set_requires_grad(true) : Tensor();
    const Tensor y_cpu = linear(x_cpu, w_cpu, b_cpu), y_gpu = linear(x_gpu, w_gpu, b_gpu);
    require_close(y_gpu.cpu(), y_cpu, 1e-4f);
    const Tensor upstream = randn(y_cpu.shape());
    y_cpu.backward(upstream);
    y_gpu.backward(upstream.to(kGpu));
    require_close(x_gpu.grad().cpu(), x_cpu.grad(), 1e-4f);
    require_close(w_gpu.grad().cpu(), w_cpu.grad(), 1e-4f);
    if (with_bias) require_close(b_gpu.grad().cpu(), b_cpu.grad(), 0.0f);
  }
}
