// CPU k-winners kernels (ActivationSparsity, DESIGN.md §7). Layout: input, output, grad_output,
// grad_input: [samples, units] float32, row-major and contiguous (every leading dimension of the
// caller's tensor is a sample); mask: [samples, units] uint8 (1 = the unit won in that sample);
// duty_cycle: [units] float32; win_counts: [units] int64. Outputs are allocated by the dispatch
// point (kernels/k_winners.h); the CUDA twins have the same signatures. The per-element arithmetic
// is in kernels/k_winners_math.h.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"

namespace wisp::kernels::cpu {

// Per sample, the k units with the largest x · boost win (ties: lower index), with
// boost = exp(beta · (k/units − duty_cycle)); output = input at the winners, 0 elsewhere, and
// mask marks them. win_counts (undefined: not computed) gets the number of samples each unit won
// in. Samples run in parallel; each is a selection in O(units) on average (one radix pass over
// 64-bit ranking keys, then std::nth_element within one bucket). Results do not depend on the
// thread count.
void k_winners_forward(const Tensor& input, const Tensor& duty_cycle, int64_t samples, int64_t units, int64_t k,
                       double beta, const Tensor& output, const Tensor& mask, const Tensor& win_counts);

// grad_input = grad_output where mask is 1, 0 elsewhere.
void k_winners_backward(const Tensor& grad_output, const Tensor& mask, const Tensor& grad_input);

// In place: duty_cycle = (1 − alpha) · duty_cycle + alpha · win_counts / samples.
void k_winners_update_duty_cycle(const Tensor& duty_cycle, const Tensor& win_counts, int64_t samples, double alpha);

}  // namespace wisp::kernels::cpu
