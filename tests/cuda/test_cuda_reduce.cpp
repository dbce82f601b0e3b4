// [cuda] The reduction CUDA twins (kernels/cuda/reduce.cu) against their CPU twins, through the
// public ops: sum of all elements, sum over a dimension, its backward, mean, argmax. Tolerances:
// 1e-6 relative for float sums (both accumulate in double, in different orders, then round to
// float), exact for integer sums, argmax and the backward's copies. Runs only with a GPU.
#include <cmath>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::require_close;

namespace {
const Device kGpu = Device::cuda(0);
}  // namespace

TEST_CASE("CUDA sums and means match the CPU", "[cuda][reduce]") {
  manual_seed(5);
  for (const Shape& shape : {Shape{1}, Shape{1000003}, Shape{64, 2000}, Shape{3, 5, 7}, Shape{0, 4}}) {
    INFO("shape " << shape);
    const Tensor x = randn(shape), x_gpu = x.to(kGpu);
    require_close(x_gpu.sum().cpu(), x.sum(), 1e-6f);
    for (int64_t dim = 0; dim < x.dim(); ++dim) {
      require_close(x_gpu.sum(dim).cpu(), x.sum(dim), 1e-6f);
      require_close(x_gpu.sum(dim, true).cpu(), x.sum(dim, true), 1e-6f);
      if (x.numel() > 0) require_close(x_gpu.mean(dim).cpu(), x.mean(dim), 1e-6f);
    }
  }
  const Tensor integers = randint(-1000, 1000, {777, 3}, DType::Int64);
  CHECK(integers.to(kGpu).sum().item<int64_t>() == integers.sum().item<int64_t>());
  CHECK(integers.to(kGpu).sum(0).to_vector<int64_t>() == integers.sum(0).to_vector<int64_t>());
}

TEST_CASE("CUDA sum backward and argmax match the CPU", "[cuda][reduce]") {
  manual_seed(6);
  const Tensor x = randn({17, 33, 5});
  for (int64_t dim = 0; dim < 3; ++dim) {
    const Tensor cpu_input = x.clone().set_requires_grad(true);
    const Tensor gpu_input = x.to(kGpu).set_requires_grad(true);
    const Tensor upstream = randn(x.sum(dim).shape());
    (cpu_input.sum(dim) * upstream).sum().backward();
    (gpu_input.sum(dim) * upstream.to(kGpu)).sum().backward();
    require_close(gpu_input.grad().cpu(), cpu_input.grad(), 0.0f);
    CHECK(x.to(kGpu).argmax(dim).to_vector<int64_t>() == x.argmax(dim).to_vector<int64_t>());
  }
  // Ties go to the first index, NaN is the maximum: the same rule on both devices.
  const Tensor ties = from_vector<float>({1, 3, 3, 2, std::nanf(""), 5, 0, 0, 0}, {3, 3});
  CHECK(ties.to(kGpu).argmax(1).to_vector<int64_t>() == ties.argmax(1).to_vector<int64_t>());
}
