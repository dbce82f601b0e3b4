// [cuda] Layer normalisation and the SGD update on the GPU against the CPU twins, and a dense MNIST-
// shaped model (Linear, LayerNorm, ReLU, Linear) trained a few steps on both devices. Tolerances:
// 1e-5 relative for LayerNorm (statistics summed in double in other orders) and SGD (one fused
// update per element; the compilers may contract multiply-adds differently); 1e-3 for losses after
// 5 training steps (issue #6: CPU/GPU parity of training losses to 1e-3). Runs only with a GPU.
#include "test_helpers.h"

using namespace wisp;
using wisp::testing::require_close;

namespace {
const Device kGpu = Device::cuda(0);
}  // namespace

TEST_CASE("LayerNorm on the GPU: forward and every gradient match the CPU", "[cuda][layer_norm]") {
  manual_seed(9);
  for (const Shape& shape : {Shape{64, 2000}, Shape{3, 5, 50000}, Shape{1, 7}}) {
    INFO("shape " << shape);
    nn::LayerNorm cpu_layer(shape.back()), gpu_layer(shape.back());
    {
      NoGradGuard no_grad;
      cpu_layer.parameters()[0].copy_(randn({shape.back()}));
      cpu_layer.parameters()[1].copy_(randn({shape.back()}));
      gpu_layer.parameters()[0].copy_(cpu_layer.parameters()[0]);
      gpu_layer.parameters()[1].copy_(cpu_layer.parameters()[1]);
    }
    gpu_layer.to(kGpu);
    const Tensor x = randn(shape) * 3.0 + 1.0;
    const Tensor x_cpu = x.clone().set_requires_grad(true), x_gpu = x.to(kGpu).set_requires_grad(true);
    const Tensor y_cpu = cpu_layer(x_cpu), y_gpu = gpu_layer(x_gpu);
    require_close(y_gpu.cpu(), y_cpu, 1e-5f);
    const Tensor upstream = randn(shape);
    y_cpu.backward(upstream);
    y_gpu.backward(upstream.to(kGpu));
    require_close(x_gpu.grad().cpu(), x_cpu.grad(), 1e-5f);
    for (size_t p = 0; p < 2; ++p)
      require_close(gpu_layer.parameters()[p].grad().cpu(), cpu_layer.parameters()[p].grad(), 1e-5f);
  }
}

TEST_CASE("SGD on the GPU updates parameters and momentum like the CPU", "[cuda][sgd]") {
  manual_seed(10);
  for (bool nesterov : {false, true}) {
    const Tensor start = randn({10000});
    const Tensor cpu_parameter = start.clone().set_requires_grad(true);
    const Tensor gpu_parameter = start.to(kGpu).set_requires_grad(true);
    optim::SGD cpu_sgd({cpu_parameter}, optim::SGDOptions(0.1).momentum(0.9).nesterov(nesterov).weight_decay(1e-4));
    optim::SGD gpu_sgd({gpu_parameter}, optim::SGDOptions(0.1).momentum(0.9).nesterov(nesterov).weight_decay(1e-4));
    for (int step = 0; step < 3; ++step) {
      const Tensor gradient = randn({10000});
      cpu_parameter.set_grad(gradient);
      gpu_parameter.set_grad(gradient.to(kGpu));
      cpu_sgd.step();
      gpu_sgd.step();
    }
    require_close(gpu_parameter.cpu(), cpu_parameter, 1e-5f);
    require_close(gpu_sgd.momentum_buffer(gpu_parameter).cpu(), cpu_sgd.momentum_buffer(cpu_parameter), 1e-5f);
  }
}

TEST_CASE("A dense model trains the same on the GPU and the CPU", "[cuda][training]") {
  manual_seed(11);
  nn::Sequential cpu_model(nn::Linear(784, 256), nn::LayerNorm(256), nn::ReLU(), nn::Linear(256, 10));
  nn::Sequential gpu_model(nn::Linear(784, 256), nn::LayerNorm(256), nn::ReLU(), nn::Linear(256, 10));
  {
    NoGradGuard no_grad;
    const auto cpu_parameters = cpu_model.parameters(), gpu_parameters = gpu_model.parameters();
    for (size_t p = 0; p < cpu_parameters.size(); ++p) gpu_parameters[p].copy_(cpu_parameters[p]);
  }
  gpu_model.to(kGpu);
  optim::SGD cpu_sgd(cpu_model.parameters(), optim::SGDOptions(0.01).momentum(0.9));
  optim::SGD gpu_sgd(gpu_model.parameters(), optim::SGDOptions(0.01).momentum(0.9));
  for (int step = 0; step < 5; ++step) {
    const Tensor x = randn({64, 784}), labels = randint(0, 10, {64}, DType::Int64);
    const Tensor cpu_loss = cross_entropy(cpu_model(x), labels);
    const Tensor gpu_loss = cross_entropy(gpu_model(x.to(kGpu)), labels.to(kGpu));
    INFO("step " << step);
    CHECK(gpu_loss.item<float>() == Approx(cpu_loss.item<float>()).epsilon(1e-3));
    cpu_loss.backward();
    gpu_loss.backward();
    cpu_sgd.step();
    gpu_sgd.step();
    cpu_sgd.zero_grad();
    gpu_sgd.zero_grad();
  }
}

TEST_CASE("A model moved between devices mid-training keeps its optimizer state", "[cuda][training]") {
  // Module::to moves the parameters in place (the optimizer's handles see them); SGD moves a momentum
  // buffer to its parameter's device at the next step (optim/sgd.cpp). Compared with a model that
  // stays on the CPU: 1e-5 relative, as for SGD above.
  manual_seed(12);
  nn::Sequential moving(nn::SparseLinear(300, 200, nn::SparseLinearOptions().sparsity(0.9).seed(1)), nn::ReLU(),
                        nn::Linear(200, 10));
  nn::Sequential staying(nn::SparseLinear(300, 200, nn::SparseLinearOptions().sparsity(0.9).seed(1)), nn::ReLU(),
                         nn::Linear(200, 10));
  {
    NoGradGuard no_grad;
    const auto from = staying.parameters(), to = moving.parameters();
    for (size_t p = 0; p < from.size(); ++p) to[p].copy_(from[p]);
  }
  optim::SGD moving_sgd(moving.parameters(), optim::SGDOptions(0.05).momentum(0.9));
  optim::SGD staying_sgd(staying.parameters(), optim::SGDOptions(0.05).momentum(0.9));
  // Two steps on the CPU, three on the GPU, one back on the CPU.
  const std::vector<Device> devices = {Device::cpu(), Device::cpu(), kGpu, kGpu, kGpu, Device::cpu()};
  for (size_t step = 0; step < devices.size(); ++step) {
    INFO("step " << step << " on " << devices[step]);
    moving.to(devices[step]);
    const Tensor x = randn({32, 300}), labels = randint(0, 10, {32}, DType::Int64);
    moving_sgd.zero_grad();
    staying_sgd.zero_grad();
    const Tensor moving_loss = cross_entropy(moving(x.to(devices[step])), labels.to(devices[step]));
    const Tensor staying_loss = cross_entropy(staying(x), labels);
    moving_loss.backward();
    staying_loss.backward();
    moving_sgd.step();
    staying_sgd.step();
    REQUIRE(std::abs(moving_loss.item<float>() - staying_loss.item<float>()) <=
            1e-5f * (1.0f + std::abs(staying_loss.item<float>())));
    for (const Tensor& parameter : moving.parameters()) CHECK(parameter.device() == devices[step]);
    for (const Tensor& buffer : moving_sgd.state_of(moving.parameters()[0])) CHECK(buffer.device() == devices[step]);
  }
  const auto moved = moving.parameters(), reference = staying.parameters();
  for (size_t p = 0; p < moved.size(); ++p) require_close(moved[p].cpu(), reference[p], 1e-5f);
}
