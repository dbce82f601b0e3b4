#include "wisp/kernels/k_winners.h"

#include <limits>

#include "wisp/kernels/cpu/k_winners.h"
#include "wisp/kernels/dispatch.h"
#if WISP_WITH_CUDA
#include "wisp/kernels/cuda/k_winners.h"
#endif

namespace wisp::kernels {

KWinnersForward k_winners_forward(const Tensor& input, const Tensor& duty_cycle, int64_t k, double beta,
                                  bool count_wins) {
  check_same_device("k_winners", input, duty_cycle);
  check_dtype("k_winners", "input", input, DType::Float32);
  check_dtype("k_winners", "duty_cycle", duty_cycle, DType::Float32);
  WISP_CHECK(input.dim() >= 1, "k_winners: expected an input with at least one dimension (units last) but got shape ",
             input.shape());
  const int64_t units = input.size(-1);
  WISP_CHECK(duty_cycle.shape() == Shape{units}, "k_winners: expected a duty cycle of shape [", units,
             "] (the input's last dimension) but got ", duty_cycle.shape());
  WISP_CHECK(k >= 1 && k <= units, "k_winners: expected k in [1, ", units, "] (the number of units) but got ", k);
  // The ranking key keeps a unit's index in 32 bits (kernels/k_winners_math.h).
  WISP_CHECK(units <= static_cast<int64_t>(std::numeric_limits<uint32_t>::max()),
             "k_winners: expected at most 2^32 - 1 units but got ", units);
  const int64_t samples = input.numel() / units;
  KWinnersForward result;
  result.output = empty(input.shape(), TensorOptions(DType::Float32).device(input.device()));
  result.mask = empty({samples, units}, TensorOptions(DType::UInt8).device(input.device()));
  if (count_wins) result.win_counts = empty({units}, TensorOptions(DType::Int64).device(input.device()));
  dispatch(
      "k_winners", input,
      [&] {
        cpu::k_winners_forward(input, duty_cycle, samples, units, k, beta, result.output, result.mask,
                               result.win_counts);
      },
      WISP_CUDA_TWIN(cuda::k_winners_forward(input, duty_cycle, samples, units, k, beta, result.output, result.mask,
                                             result.win_counts)));
  return result;
}

Tensor k_winners_backward(const Tensor& grad_output, const Tensor& mask) {
  check_same_device("k_winners backward", grad_output, mask);
  check_dtype("k_winners backward", "gradient", grad_output, DType::Float32);
  check_dtype("k_winners backward", "mask", mask, DType::UInt8);
  WISP_CHECK(grad_output.numel() == mask.numel(), "k_winners backward: expected a gradient with ", mask.numel(),
             " elements (the mask's shape ", mask.shape(), ") but got shape ", grad_output.shape());
  Tensor grad_input = empty(grad_output.shape(), TensorOptions(DType::Float32).device(grad_output.device()));
  dispatch(
      "k_winners backward", grad_output, [&] { cpu::k_winners_backward(grad_output, mask, grad_input); },
      WISP_CUDA_TWIN(cuda::k_winners_backward(grad_output, mask, grad_input)));
  return grad_input;
}

void k_winners_update_duty_cycle_(const Tensor& duty_cycle, const Tensor& win_counts, int64_t samples, double alpha) {
  check_same_device("k_winners duty-cycle update", duty_cycle, win_counts);
  check_dtype("k_winners duty-cycle update", "duty_cycle", duty_cycle, DType::Float32);
  check_dtype("k_winners duty-cycle update", "win_counts", win_counts, DType::Int64);
  WISP_CHECK(win_counts.shape() == duty_cycle.shape(), "k_winners duty-cycle update: expected win counts of shape ",
             duty_cycle.shape(), " (the duty cycle's) but got ", win_counts.shape());
  WISP_CHECK(samples > 0, "k_winners duty-cycle update: expected a positive number of samples but got ", samples);
  dispatch(
      "k_winners duty-cycle update", duty_cycle,
      [&] { cpu::k_winners_update_duty_cycle(duty_cycle, win_counts, samples, alpha); },
      WISP_CUDA_TWIN(cuda::k_winners_update_duty_cycle(duty_cycle, win_counts, samples, alpha)));
}

}  // namespace wisp::kernels
