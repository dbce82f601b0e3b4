// CUDA twin of the fused Adam/AdamW update: one thread per element, the per-element rule is
// kernels/adam_math.h's (shared with the CPU twin), so both devices compute the same floats.
#include "wisp/kernels/cuda/adam.h"

#include "wisp/kernels/access.h"
#include "wisp/kernels/adam_math.h"
#include "wisp/kernels/bfloat16_math.h"
#include "wisp/kernels/cuda/launch.h"

namespace wisp::kernels::cuda {
namespace {

// parameter, gradient, exp_avg, exp_avg_sq, max_exp_avg_sq (or null) [n], in place; copy (or null)
// [n] the updated parameter in bfloat16.
__global__ void adam_kernel(int64_t n, float* parameter, const float* gradient, float* exp_avg, float* exp_avg_sq,
                            float* max_exp_avg_sq, AdamElementConstants constants, uint16_t* copy) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) {
    adam_update_element(parameter[i], gradient[i], exp_avg[i], exp_avg_sq[i],
                        max_exp_avg_sq != nullptr ? max_exp_avg_sq + i : nullptr, constants);
    if (copy != nullptr) copy[i] = bfloat16_from_float(parameter[i]);
  }
}

}  // namespace

void adam_step(const Tensor& parameter, const Tensor& gradient, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, const AdamStepConstants& constants, const Tensor& bfloat16_copy) {
  const DeviceScope scope(parameter);
  launch(adam_kernel, parameter.numel(), mutable_pointer<float>(parameter), pointer<float>(gradient),
         mutable_pointer<float>(exp_avg), mutable_pointer<float>(exp_avg_sq),
         max_exp_avg_sq.defined() ? mutable_pointer<float>(max_exp_avg_sq) : nullptr, adam_element_constants(constants),
         bfloat16_copy.defined() ? mutable_pointer<uint16_t>(bfloat16_copy) : nullptr);
}

}  // namespace wisp::kernels::cuda
