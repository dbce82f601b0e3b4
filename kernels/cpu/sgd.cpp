#include "wisp/kernels/cpu/sgd.h"

#include "wisp/kernels/access.h"
#include "wisp/kernels/bfloat16_math.h"
#include "wisp/kernels/sgd_math.h"

namespace wisp::kernels::cpu {

void sgd_step(const Tensor& parameter, const Tensor& gradient, const Tensor& momentum_buffer,
              const SgdHyperparameters& h, bool first_step, const Tensor& bfloat16_copy) {
  float* p = mutable_pointer<float>(parameter);
  const float* g = pointer<float>(gradient);
  float* m = h.momentum != 0 ? mutable_pointer<float>(momentum_buffer) : nullptr;
  uint16_t* copy = bfloat16_copy.defined() ? mutable_pointer<uint16_t>(bfloat16_copy) : nullptr;
  const int64_t n = parameter.numel();
  const float learning_rate = static_cast<float>(h.learning_rate), momentum = static_cast<float>(h.momentum),
              dampening = static_cast<float>(h.dampening), weight_decay = static_cast<float>(h.weight_decay);
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) {
    sgd_update_element(p[i], g[i], m ? m + i : nullptr, learning_rate, momentum, dampening, weight_decay, h.nesterov,
                       first_step);
    if (copy) copy[i] = bfloat16_from_float(p[i]);
  }
}

}  // namespace wisp::kernels::cpu
