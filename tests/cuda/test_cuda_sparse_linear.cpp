// [cuda] SparseLinear on the GPU (kernels/cuda/sparse_linear.cu) against the CPU: the forward and
// all gradients for 1-D, 2-D (batch 1, 64 and 70, which pads the feature-major layout) and 3-D
// inputs, random and small-world connectivity, Int32 and Int64 indices. Tolerance 1e-5 relative:
// both sum the same products in float, in other orders. Runs only with a GPU.
#include "test_helpers.h"
#include "wisp/kernels/sparse_linear.h"

using namespace wisp;
using wisp::testing::require_close;

namespace {
const Device kGpu = Device::cuda(0);
}  // namespace

TEST_CASE("SparseLinear on the GPU: forward and gradients match the CPU", "[cuda][sparse_linear]") {
  manual_seed(14);
  for (bool small_world : {false, true}) {
    nn::SparseLinear cpu_layer(300, 500, nn::SparseLinearOptions().sparsity(0.95).small_world(small_world).seed(3));
    nn::SparseLinear gpu_layer(300, 500, nn::SparseLinearOptions().sparsity(0.95).small_world(small_world).seed(3));
    {
      NoGradGuard no_grad;
      gpu_layer.weights().copy_(cpu_layer.weights());
      gpu_layer.bias().copy_(cpu_layer.bias());
    }
    gpu_layer.to(kGpu);
    REQUIRE(gpu_layer.structure().device() == kGpu);
    for (const Shape& shape : {Shape{300}, Shape{1, 300}, Shape{64, 300}, Shape{70, 300}, Shape{4, 5, 300}}) {
      INFO("small_world " << small_world << ", input " << shape);
      cpu_layer.zero_grad();
      gpu_layer.zero_grad();
      const Tensor x = randn(shape);
      const Tensor x_cpu = x.clone().set_requires_grad(true), x_gpu = x.to(kGpu).set_requires_grad(true);
      const Tensor y_cpu = cpu_layer(x_cpu), y_gpu = gpu_layer(x_gpu);
      require_close(y_gpu.cpu(), y_cpu, 1e-5f);
      const Tensor upstream = randn(y_cpu.shape());
      y_cpu.backward(upstream);
      y_gpu.backward(upstream.to(kGpu));
      require_close(x_gpu.grad().cpu(), x_cpu.grad(), 1e-5f);
      require_close(gpu_layer.weights().grad().cpu(), cpu_layer.weights().grad(), 1e-5f);
      require_close(gpu_layer.bias().grad().cpu(), cpu_layer.bias().grad(), 0.0f);
    }
  }
}

TEST_CASE("The sparse kernels on the GPU with Int64 indices match the CPU", "[cuda][sparse_linear]") {
  manual_seed(15);
  nn::SparseLinear layer(200, 150, nn::SparseLinearOptions().sparsity(0.9));
  const kernels::SparseStructure cpu_structure =
      kernels::make_sparse_structure(layer.weight().indices(), 150, 200, DType::Int64);
  const kernels::SparseStructure gpu_structure = cpu_structure.to(kGpu);
  const Tensor values = layer.weights().detach(), x = randn({33, 200}), g = randn({33, 150});
  const kernels::FeatureMajor x_cpu = kernels::to_feature_major(x), x_gpu = kernels::to_feature_major(x.to(kGpu));
  require_close(x_gpu.data.cpu(), x_cpu.data, 0.0f);
  require_close(kernels::sparse_linear_forward(x_gpu, values.to(kGpu), gpu_structure, Tensor()).cpu(),
                kernels::sparse_linear_forward(x_cpu, values, cpu_structure, Tensor()), 1e-5f);
  const kernels::SparseLinearGradients expected =
      kernels::sparse_linear_backward(g, x_cpu, values, cpu_structure, true, true, true);
  const kernels::SparseLinearGradients actual =
      kernels::sparse_linear_backward(g.to(kGpu), x_gpu, values.to(kGpu), gpu_structure, true, true, true);
  require_close(actual.input.cpu(), expected.input, 1e-5f);
  require_close(actual.values.cpu(), expected.values, 1e-5f);
  require_close(actual.bias.cpu(), expected.bias, 0.0f);
}

TEST_CASE("A SparseLinear copied into a Sequential moves with it: one structure for every copy",
          "[cuda][sparse_linear]") {
  manual_seed(15);
  nn::SparseLinear layer(40, 30, nn::SparseLinearOptions().sparsity(0.8).seed(4));
  nn::SparseLinear cpu_layer(40, 30, nn::SparseLinearOptions().sparsity(0.8).seed(4));
  {
    NoGradGuard no_grad;
    cpu_layer.weights().copy_(layer.weights());
    cpu_layer.bias().copy_(layer.bias());
  }
  nn::Sequential model(layer);  // a copy sharing layer's tensors
  model.to(kGpu);
  // The original handle sees every structure tensor moved, the CSC ones included (not buffers).
  const kernels::SparseStructure& structure = layer.structure();
  for (const Tensor* t : {&structure.row_pointers, &structure.column_indices, &structure.column_pointers,
                          &structure.row_indices, &structure.csc_to_value})
    CHECK(t->device() == kGpu);
  const Tensor x = randn({5, 40});
  const Tensor x_gpu = x.to(kGpu).set_requires_grad(true), x_cpu = x.clone().set_requires_grad(true);
  const Tensor upstream = randn({5, 30});
  layer(x_gpu).backward(upstream.to(kGpu));
  cpu_layer(x_cpu).backward(upstream);
  require_close(x_gpu.grad().cpu(), x_cpu.grad(), 1e-5f);
  require_close(layer.weights().grad().cpu(), cpu_layer.weights().grad(), 1e-5f);
  // A structure whose tensors are on two devices is refused before any kernel reads it.
  kernels::SparseStructure mixed = cpu_layer.structure().to(kGpu);
  mixed.csc_to_value = cpu_layer.structure().csc_to_value;
  WISP_REQUIRE_ERROR(
      kernels::sparse_linear_forward(kernels::to_feature_major(x.to(kGpu)), layer.weights().detach(), mixed, Tensor()),
      "expected csc_to_value on cuda:0 (column_indices' device) but it is on cpu");
  // A graph recorded before a move refuses to back-propagate after it.
  const Tensor loss = model.forward(x_gpu).sum();
  model.to(Device::cpu());
  WISP_REQUIRE_ERROR(loss.backward(), "updated in place after the forward");
}
