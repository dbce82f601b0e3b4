#include "wisp/kernels/random.h"

#include <cmath>

#include "wisp/kernels/cpu/random.h"
#include "wisp/kernels/dispatch.h"
#if WISP_WITH_CUDA
#include "wisp/kernels/cuda/random.h"
#endif

namespace wisp::kernels {

Tensor bernoulli(const Tensor& probabilities, uint64_t key, uint64_t first_counter) {
  check_dtype("bernoulli", "probabilities", probabilities, DType::Float32);
  Tensor out = empty(probabilities.shape(), TensorOptions(DType::Float32).device(probabilities.device()));
  dispatch(
      "bernoulli", out, [&] { cpu::bernoulli(probabilities, key, first_counter, out); },
      WISP_CUDA_TWIN(cuda::bernoulli(probabilities, key, first_counter, out)));
  return out;
}

Tensor bernoulli_scalar(const Shape& shape, Device device, double probability, double value, uint64_t key,
                        uint64_t first_counter) {
  WISP_CHECK(probability >= 0.0 && probability <= 1.0, "bernoulli: expected a probability in [0, 1] but got ",
             probability);
  WISP_CHECK(std::isfinite(value) && holds_value(DType::Float32, value),
             "bernoulli: expected a finite float32 value but got ", value);
  Tensor out = empty(shape, TensorOptions(DType::Float32).device(device));
  const float p = static_cast<float>(probability), v = static_cast<float>(value);
  dispatch(
      "bernoulli", out, [&] { cpu::bernoulli_scalar(p, v, key, first_counter, out); },
      WISP_CUDA_TWIN(cuda::bernoulli_scalar(p, v, key, first_counter, out)));
  return out;
}

}  // namespace wisp::kernels
