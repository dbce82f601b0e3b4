// k-winners, the op behind nn::ActivationSparsity (DESIGN.md §7), as free functions in namespace
// wisp.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"

namespace wisp {

// k-winners-take-all with boosting, per sample: the last dimension of `input` holds the `units`
// of one sample and every leading dimension counts samples ([units], [batch, units] or
// [..., units]). In each sample unit i scores input_i · boost_i with
//   boost_i = exp(beta · (k/units − duty_cycle_i)),
// the k units with the largest scores win — among equal scores the lower index wins — and the
// output is the input at the winners and 0 elsewhere (the original values: the boost only
// selects). The gradient flows only through the winners. NaN scores rank below every number.
//
// input: float32 [..., units]; duty_cycle: float32 [units] on input's device (only selects, so it
// gets no gradient); 1 ≤ k ≤ units; beta ≥ 0. When `win_counts` is given it receives an int64
// [units] tensor: in how many samples each unit won (for update_duty_cycle_). One tape entry,
// "KWinnersBackward", which saves only the uint8 winner mask.
Tensor k_winners(const Tensor& input, const Tensor& duty_cycle, int64_t k, double beta, Tensor* win_counts = nullptr);

// The duty-cycle update of ActivationSparsity, in place and not recorded:
//   duty_cycle = (1 − alpha) · duty_cycle + alpha · win_counts / samples,
// i.e. a moving average (rate alpha in (0, 1]) of the fraction of samples in which each unit won.
// duty_cycle: float32 [units]; win_counts: int64 [units] from k_winners; samples > 0 (the number
// of samples in the batch that produced win_counts).
void update_duty_cycle_(const Tensor& duty_cycle, const Tensor& win_counts, int64_t samples, double alpha);

}  // namespace wisp
