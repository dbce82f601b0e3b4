// [cuda] Adam and AdamW's CUDA twin (kernels/cuda/adam.cu) against the CPU twin on the same
// parameters and gradients, through the optimizers, plus clip_grad_norm_ on GPU gradients.
// Tolerance 1e-5 relative: both twins run kernels/adam_math.h, but nvcc may fuse a multiply-add
// (FMA) that the CPU compiler keeps as two roundings. Runs only with a GPU.
#include <vector>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::require_close;

namespace {

const Device kGpu = Device::cuda(0);

template <class Optimizer, class Options>
void check_twins(const Options& options) {
  manual_seed(21);
  const Tensor start = randn({10000});
  const Tensor cpu_parameter = start.clone().set_requires_grad(true);
  const Tensor gpu_parameter = start.to(kGpu).set_requires_grad(true);
  Optimizer cpu_optimizer({cpu_parameter}, options);
  Optimizer gpu_optimizer({gpu_parameter}, options);
  for (int step = 0; step < 5; ++step) {
    const Tensor gradient = randn({10000}) * (step + 1.0);
    cpu_parameter.set_grad(gradient);
    gpu_parameter.set_grad(gradient.to(kGpu));
    cpu_optimizer.step();
    gpu_optimizer.step();
  }
  REQUIRE(gpu_parameter.is_cuda());
  require_close(gpu_parameter.cpu(), cpu_parameter, 1e-5f);
  const std::vector<Tensor> cpu_state = cpu_optimizer.state_of(cpu_parameter);
  const std::vector<Tensor> gpu_state = gpu_optimizer.state_of(gpu_parameter);
  REQUIRE(gpu_state.size() == cpu_state.size());
  for (size_t i = 0; i < cpu_state.size(); ++i) {
    REQUIRE(gpu_state[i].is_cuda());
    require_close(gpu_state[i].cpu(), cpu_state[i], 1e-5f);
  }
}

}  // namespace

TEST_CASE("Adam and AdamW on the GPU update parameters and moments like the CPU", "[cuda][adam]") {
  check_twins<optim::Adam>(optim::AdamOptions(1e-2));
  check_twins<optim::Adam>(optim::AdamOptions(1e-2).weight_decay(0.1).amsgrad(true));
  check_twins<optim::AdamW>(optim::AdamWOptions(1e-2).betas(0.8, 0.99).eps(1e-6));
  check_twins<optim::AdamW>(optim::AdamWOptions(1e-2).amsgrad(true).schedule(optim::warmup_cosine(2, 5)));
}

TEST_CASE("clip_grad_norm_ on GPU gradients matches the CPU", "[cuda][clip]") {
  manual_seed(22);
  const Tensor gradient = randn({3000}) * 4.0;
  const Tensor cpu_parameter = zeros({3000}).set_requires_grad(true);
  const Tensor gpu_parameter = zeros({3000}).to(kGpu).set_requires_grad(true);
  for (double norm_type : {2.0, 1.0}) {
    cpu_parameter.set_grad(gradient.clone());
    gpu_parameter.set_grad(gradient.to(kGpu));
    const double cpu_norm = nn::utils::clip_grad_norm_({cpu_parameter}, 1.0, norm_type);
    const double gpu_norm = nn::utils::clip_grad_norm_({gpu_parameter}, 1.0, norm_type);
    CHECK(gpu_norm == Approx(cpu_norm).epsilon(1e-5));
    REQUIRE(gpu_parameter.grad().is_cuda());
    require_close(gpu_parameter.grad().cpu(), cpu_parameter.grad(), 1e-5f);
  }
}
