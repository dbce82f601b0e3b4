#include "wisp/kernels/cpu/random.h"

#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/parallel.h"
#include "wisp/kernels/random_math.h"

namespace wisp::kernels::cpu {

void bernoulli(const Tensor& probabilities, uint64_t key, uint64_t first_counter, const Tensor& out) {
  const float* p = pointer<float>(probabilities);
  float* po = mutable_pointer<float>(out);
  const int64_t n = out.numel();
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i)
    po[i] = bernoulli_draw(key, first_counter + static_cast<uint64_t>(i), p[i]) ? 1.0f : 0.0f;
}

void bernoulli_scalar(float probability, float value, uint64_t key, uint64_t first_counter, const Tensor& out) {
  float* po = mutable_pointer<float>(out);
  const int64_t n = out.numel();
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i)
    po[i] = bernoulli_draw(key, first_counter + static_cast<uint64_t>(i), probability) ? value : 0.0f;
}

}  // namespace wisp::kernels::cpu
