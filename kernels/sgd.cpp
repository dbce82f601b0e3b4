#include "wisp/kernels/sgd.h"

#include "wisp/kernels/cpu/sgd.h"
#include "wisp/kernels/dispatch.h"
#if WISP_WITH_CUDA
#include "wisp/kernels/cuda/sgd.h"
#endif

namespace wisp::kernels {

void sgd_step(const Tensor& parameter, const Tensor& gradient, const Tensor& momentum_buffer,
              const SgdHyperparameters& hyperparameters, bool first_step) {
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
  dispatch(
      "SGD", parameter, [&] { cpu::sgd_step(parameter, gradient, momentum_buffer, hyperparameters, first_step); },
      WISP_CUDA_TWIN(cuda::sgd_step(parameter, gradient, momentum_buffer, hyperparameters, first_step)));
  parameter.bump_version();  // a graph that saved the old values can no longer back-propagate
  if (momentum_buffer.defined()) momentum_buffer.bump_version();
}

}  // namespace wisp::kernels
