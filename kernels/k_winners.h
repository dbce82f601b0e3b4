// Dispatch points for k-winners (ActivationSparsity, DESIGN.md §7): each function checks what the
// kernels rely on (devices, sizes), allocates the outputs and calls the CPU twin
// (kernels/cpu/k_winners.h) or, for CUDA tensors, the CUDA twin with the same signature
// (kernels/cuda/k_winners.h). Not recorded on the tape: ops/k_winners.cpp adds autograd.
// Callers have checked dtypes (float32 input and duty cycle) and that 1 ≤ k ≤ units.
//
// The input is viewed as [samples, units]: units = its last dimension, samples = the product of
// the others (1 for a 1-D input).
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"

namespace wisp::kernels {

struct KWinnersForward {
  Tensor output;      // input's shape: the input at the winners, 0 elsewhere
  Tensor mask;        // uint8 [samples, units]: 1 where the unit won
  Tensor win_counts;  // int64 [units]: in how many samples each unit won; undefined unless requested
};

// Per sample, the k units with the largest input · exp(beta · (k/units − duty_cycle)) win; among
// equal scores the lower index wins (kernels/k_winners_math.h). duty_cycle: [units].
KWinnersForward k_winners_forward(const Tensor& input, const Tensor& duty_cycle, int64_t k, double beta,
                                  bool count_wins);

// grad_input (grad_output's shape) = grad_output at the winners of `mask`, 0 elsewhere.
Tensor k_winners_backward(const Tensor& grad_output, const Tensor& mask);

// In place: duty_cycle = (1 − alpha) · duty_cycle + alpha · win_counts / samples, with
// duty_cycle float32 [units], win_counts int64 [units] and samples > 0.
void k_winners_update_duty_cycle_(const Tensor& duty_cycle, const Tensor& win_counts, int64_t samples, double alpha);

}  // namespace wisp::kernels
