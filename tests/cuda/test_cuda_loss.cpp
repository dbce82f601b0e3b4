// [cuda] log_softmax, cross_entropy and mse_loss on the GPU against the CPU, forward and gradients.
// Tolerance 1e-5 relative: both sum exp (or squared errors) in double, in other orders, and round
// to float; expf differs from glibc's in the last bit. Runs only with a GPU.
#include "test_helpers.h"

using namespace wisp;
using wisp::testing::require_close;

namespace {
const Device kGpu = Device::cuda(0);

// f on the CPU and on the GPU: values and the gradient of `inputs[0]` for a random upstream gradient.
template <class F>
void check_twins(F f, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> cpu_inputs, gpu_inputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    cpu_inputs.push_back(i == 0 ? inputs[i].clone().set_requires_grad(true) : inputs[i]);
    gpu_inputs.push_back(i == 0 ? inputs[i].to(kGpu).set_requires_grad(true) : inputs[i].to(kGpu));
  }
  const Tensor cpu_out = f(cpu_inputs), gpu_out = f(gpu_inputs);
  require_close(gpu_out.cpu(), cpu_out, 1e-5f);
  const Tensor upstream = randn(cpu_out.shape());
  cpu_out.backward(upstream);
  gpu_out.backward(upstream.to(kGpu));
  require_close(gpu_inputs[0].grad().cpu(), cpu_inputs[0].grad(), 1e-5f);
}
}  // namespace

TEST_CASE("log_softmax on the GPU matches the CPU over every dimension", "[cuda][loss]") {
  manual_seed(12);
  const Tensor x = randn({6, 10, 7}) * 5.0;
  for (int64_t dim = 0; dim < 3; ++dim) {
    INFO("dim " << dim);
    check_twins([dim](const std::vector<Tensor>& t) { return log_softmax(t[0], dim); }, {x});
  }
}

TEST_CASE("cross_entropy and mse_loss on the GPU match the CPU", "[cuda][loss]") {
  manual_seed(13);
  const Tensor logits = randn({64, 10}) * 3.0, labels = randint(0, 10, {64}, DType::Int64);
  for (Reduction reduction : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    check_twins([reduction](const std::vector<Tensor>& t) { return cross_entropy(t[0], t[1], reduction); },
                {logits, labels});
    check_twins([reduction](const std::vector<Tensor>& t) { return mse_loss(t[0], t[1], reduction); },
                {randn({64, 10}), randn({64, 10})});
  }
  WISP_REQUIRE_ERROR(cross_entropy(logits.to(kGpu), from_vector<int64_t>(std::vector<int64_t>(64, 10)).to(kGpu)),
                     "cross_entropy: target 10 at index 0 is out of range [0, 10)");
}
