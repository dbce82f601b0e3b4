// CUDA twin of the fused SGD update: one thread per element, the per-element rule is
// kernels/sgd_math.h's (shared with the CPU twin), so both devices compute the same floats.
#include "wisp/kernels/cuda/sgd.h"

#include "wisp/kernels/access.h"
#include "wisp/kernels/bfloat16_math.h"
#include "wisp/kernels/cuda/launch.h"
#include "wisp/kernels/sgd_math.h"

namespace wisp::kernels::cuda {
namespace {

// parameter, gradient, momentum (or null) [n], in place; copy (or null) [n] the updated parameter in
// bfloat16.
__global__ void sgd_kernel(int64_t n, float* parameter, const float* gradient, float* momentum, float learning_rate,
                           float momentum_factor, float dampening, float weight_decay, bool nesterov, bool first_step,
                           uint16_t* copy) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) {
    sgd_update_element(parameter[i], gradient[i], momentum != nullptr ? momentum + i : nullptr, learning_rate,
                       momentum_factor, dampening, weight_decay, nesterov, first_step);
    if (copy != nullptr) copy[i] = bfloat16_from_float(parameter[i]);
  }
}

}  // namespace

void sgd_step(const Tensor& parameter, const Tensor& gradient, const Tensor& momentum_buffer,
              const SgdHyperparameters& h, bool first_step, const Tensor& bfloat16_copy) {
  const DeviceScope scope(parameter);
  launch(sgd_kernel, parameter.numel(), mutable_pointer<float>(parameter), pointer<float>(gradient),
         h.momentum != 0 ? mutable_pointer<float>(momentum_buffer) : nullptr, static_cast<float>(h.learning_rate),
         static_cast<float>(h.momentum), static_cast<float>(h.dampening), static_cast<float>(h.weight_decay),
         h.nesterov, first_step, bfloat16_copy.defined() ? mutable_pointer<uint16_t>(bfloat16_copy) : nullptr);
}

}  // namespace wisp::kernels::cuda
