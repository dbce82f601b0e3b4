// k-winners with autograd: one forward kernel that selects the winners and saves their mask, one
// masked backward (kernels/k_winners.h).
#include <cmath>

#include "wisp/autograd/grad_mode.h"
#include "wisp/autograd/tape.h"
#include "wisp/kernels/k_winners.h"
#include "wisp/ops/k_winners.h"

namespace wisp {

Tensor k_winners(const Tensor& input, const Tensor& duty_cycle, int64_t k, double beta, Tensor* win_counts) {
  check_dtype("k_winners", "input", input, DType::Float32);
  check_dtype("k_winners", "duty_cycle", duty_cycle, DType::Float32);
  WISP_CHECK(input.dim() >= 1, "k_winners: expected an input with at least one dimension (units last) but got shape ",
             input.shape());
  WISP_CHECK(std::isfinite(beta) && beta >= 0, "k_winners: expected a finite beta >= 0 (boost strength) but got ",
             beta);
  // Devices, the duty cycle's shape and the range of k are checked by the dispatch point.
  kernels::KWinnersForward forward = kernels::k_winners_forward(input, duty_cycle, k, beta, win_counts != nullptr);
  if (win_counts != nullptr) *win_counts = forward.win_counts;
  if (!autograd::needs_recording({input})) return forward.output;

  // Saved: the winner mask only (one byte per element); backward never needs the values.
  Tensor mask = forward.mask;
  return autograd::record("KWinnersBackward", forward.output, {input},
                          [mask](const Tensor& grad_output) -> std::vector<Tensor> {
                            return {kernels::k_winners_backward(grad_output, mask)};
                          });
}

void update_duty_cycle_(const Tensor& duty_cycle, const Tensor& win_counts, int64_t samples, double alpha) {
  check_dtype("update_duty_cycle_", "duty_cycle", duty_cycle, DType::Float32);
  check_dtype("update_duty_cycle_", "win_counts", win_counts, DType::Int64);
  WISP_CHECK(duty_cycle.dim() == 1, "update_duty_cycle_: expected a 1-D duty cycle [units] but got shape ",
             duty_cycle.shape());
  WISP_CHECK(!(GradMode::is_enabled() && duty_cycle.requires_grad()),
             "update_duty_cycle_: in-place update of a duty cycle that requires grad while gradients are recorded; "
             "use a tensor that does not require grad (a buffer) or wrap the call in NoGradGuard");
  WISP_CHECK(alpha > 0 && alpha <= 1, "update_duty_cycle_: expected alpha in (0, 1] but got ", alpha);
  kernels::k_winners_update_duty_cycle_(duty_cycle, win_counts, samples, alpha);
}

}  // namespace wisp
