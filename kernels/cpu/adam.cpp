#include "wisp/kernels/cpu/adam.h"

#include "wisp/kernels/access.h"
#include "wisp/kernels/adam_math.h"
#include "wisp/kernels/bfloat16_math.h"

namespace wisp::kernels::cpu {

void adam_step(const Tensor& parameter, const Tensor& gradient, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, const AdamStepConstants& constants, const Tensor& bfloat16_copy) {
  float* p = mutable_pointer<float>(parameter);
  const float* g = pointer<float>(gradient);
  float* m = mutable_pointer<float>(exp_avg);
  float* v = mutable_pointer<float>(exp_avg_sq);
  float* v_max = max_exp_avg_sq.defined() ? mutable_pointer<float>(max_exp_avg_sq) : nullptr;
  const AdamElementConstants c = adam_element_constants(constants);
  uint16_t* copy = bfloat16_copy.defined() ? mutable_pointer<uint16_t>(bfloat16_copy) : nullptr;
  const int64_t n = parameter.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) {
    adam_update_element(p[i], g[i], m[i], v[i], v_max ? v_max + i : nullptr, c);
    if (copy) copy[i] = bfloat16_from_float(p[i]);
  }
}

}  // namespace wisp::kernels::cpu
