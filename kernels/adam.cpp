#include "wisp/kernels/adam.h"

#include "wisp/kernels/cpu/adam.h"
#include "wisp/kernels/dispatch.h"
#if WISP_WITH_CUDA
#include "wisp/kernels/cuda/adam.h"
#endif

namespace wisp::kernels {

void adam_step(const Tensor& parameter, const Tensor& gradient, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, const AdamStepConstants& constants, const Tensor& bfloat16_copy) {
  check_dtype("Adam", "parameter", parameter, DType::Float32);
  check_dtype("Adam", "gradient", gradient, DType::Float32);
  check_dtype("Adam", "exp_avg", exp_avg, DType::Float32);
  check_dtype("Adam", "exp_avg_sq", exp_avg_sq, DType::Float32);
  check_same_device("Adam", parameter, gradient);
  check_same_device("Adam", parameter, exp_avg);
  check_same_device("Adam", parameter, exp_avg_sq);
  WISP_CHECK(gradient.shape() == parameter.shape(), "Adam: expected a gradient of shape ", parameter.shape(),
             " but got ", gradient.shape());
  WISP_CHECK(exp_avg.shape() == parameter.shape() && exp_avg_sq.shape() == parameter.shape(),
             "Adam: expected moments of shape ", parameter.shape(), " but got ", exp_avg.shape(), " and ",
             exp_avg_sq.shape());
  if (max_exp_avg_sq.defined()) {
    check_dtype("Adam", "max_exp_avg_sq", max_exp_avg_sq, DType::Float32);
    check_same_device("Adam", parameter, max_exp_avg_sq);
    WISP_CHECK(max_exp_avg_sq.shape() == parameter.shape(), "Adam: expected max_exp_avg_sq of shape ",
               parameter.shape(), " but got ", max_exp_avg_sq.shape());
  }
  if (bfloat16_copy.defined()) {
    check_dtype("Adam", "bfloat16_copy", bfloat16_copy, DType::BFloat16);
    check_same_device("Adam", parameter, bfloat16_copy);
    WISP_CHECK(bfloat16_copy.shape() == parameter.shape(), "Adam: expected a bfloat16 copy of shape ",
               parameter.shape(), " but got ", bfloat16_copy.shape());
  }
  dispatch(
      "Adam", parameter,
      [&] { cpu::adam_step(parameter, gradient, exp_avg, exp_avg_sq, max_exp_avg_sq, constants, bfloat16_copy); },
      WISP_CUDA_TWIN(
          cuda::adam_step(parameter, gradient, exp_avg, exp_avg_sq, max_exp_avg_sq, constants, bfloat16_copy)));
  if (bfloat16_copy.defined()) bfloat16_copy.bump_version();
  // A graph that saved the old values can no longer back-propagate.
  parameter.bump_version();
  exp_avg.bump_version();
  exp_avg_sq.bump_version();
  if (max_exp_avg_sq.defined()) max_exp_avg_sq.bump_version();
}

}  // namespace wisp::kernels
