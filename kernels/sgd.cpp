#include "wisp/kernels/sgd.h"

#include "wisp/kernels/cpu/sgd.h"
#include "wisp/kernels/dispatch.h"
#if WISP_WITH_CUDA
#include "wisp/kernels/cuda/sgd.h"
#endif

namespace wisp::kernels {

void sgd_step(const Tensor& parameter, const Tensor& gradient, const Tensor& momentum_buffer,
              const SgdHyperparameters& hyperparameters, bool first_step, const Tensor& bfloat16_copy) {
  check_dtype("SGD", "parameter", parameter, DType::Float32);
  check_dtype("SGD", "gradient", gradient, DType::Float32);
  check_same_device("SGD", parameter, gradient);
  WISP_CHECK(gradient.shape() == parameter.shape(), "SGD: expected a gradient of shape ", parameter.shape(),
             " but got ", gradient.shape());
  if (hyperparameters.momentum != 0) {
    check_same_device("SGD", parameter, momentum_buffer);
    WISP_CHECK(momentum_buffer.shape() == parameter.shape(), "SGD: expected a momentum buffer of shape ",
               parameter.shape(), " but got ", momentum_buffer.shape());
  }
  if (bfloat16_copy.defined()) {
    check_dtype("SGD", "bfloat16_copy", bfloat16_copy, DType::BFloat16);
    check_same_device("SGD", parameter, bfloat16_copy);
    WISP_CHECK(bfloat16_copy.shape() == parameter.shape(), "SGD: expected a bfloat16 copy of shape ", parameter.shape(),
               " but got ", bfloat16_copy.shape());
  }
  dispatch(
      "SGD", parameter,
      [&] { cpu::sgd_step(parameter, gradient, momentum_buffer, hyperparameters, first_step, bfloat16_copy); },
      WISP_CUDA_TWIN(cuda::sgd_step(parameter, gradient, momentum_buffer, hyperparameters, first_step, bfloat16_copy)));
  if (bfloat16_copy.defined()) bfloat16_copy.bump_version();
  parameter.bump_version();  // a graph that saved the old values can no longer back-propagate
  if (momentum_buffer.defined()) momentum_buffer.bump_version();
}

}  // namespace wisp::kernels
