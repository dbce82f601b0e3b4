// CUDA twins of the random kernels (kernels/cuda/random.h): one thread per element in grid-stride
// loops, each drawing its own counter (kernels/random_math.h), so the numbers are the CPU twins'.
#include "wisp/kernels/cuda/random.h"

#include "wisp/kernels/access.h"
#include "wisp/kernels/cuda/launch.h"
#include "wisp/kernels/random_math.h"

namespace wisp::kernels::cuda {
namespace {

// out [n] = 1 with probability probabilities [n], else 0.
__global__ void bernoulli_kernel(int64_t n, const float* probabilities, uint64_t key, uint64_t first_counter,
                                 float* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step())
    out[i] = bernoulli_draw(key, first_counter + static_cast<uint64_t>(i), probabilities[i]) ? 1.0f : 0.0f;
}

// out [n] = value with probability `probability`, else 0.
__global__ void bernoulli_scalar_kernel(int64_t n, float probability, float value, uint64_t key, uint64_t first_counter,
                                        float* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step())
    out[i] = bernoulli_draw(key, first_counter + static_cast<uint64_t>(i), probability) ? value : 0.0f;
}

}  // namespace

void bernoulli(const Tensor& probabilities, uint64_t key, uint64_t first_counter, const Tensor& out) {
  const DeviceScope scope(out);
  launch(bernoulli_kernel, out.numel(), pointer<float>(probabilities), key, first_counter, mutable_pointer<float>(out));
}

void bernoulli_scalar(float probability, float value, uint64_t key, uint64_t first_counter, const Tensor& out) {
  const DeviceScope scope(out);
  launch(bernoulli_scalar_kernel, out.numel(), probability, value, key, first_counter, mutable_pointer<float>(out));
}

}  // namespace wisp::kernels::cuda
