// CUDA twins of kernels/cpu/k_winners.h (ActivationSparsity, DESIGN.md §7): the same signatures,
// layouts and contracts (input, output [samples, units] float32; mask [samples, units] uint8;
// duty_cycle [units] float32; win_counts [units] int64 or undefined; outputs allocated by
// kernels/k_winners.cpp). They select exactly the CPU's winners: both rank by the 64-bit keys of
// kernels/k_winners_math.h, whose boosts are computed bit for bit alike on both devices. A plain
// C++ header; compiled only when WISP_WITH_CUDA.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"

namespace wisp::kernels::cuda {

void k_winners_forward(const Tensor& input, const Tensor& duty_cycle, int64_t samples, int64_t units, int64_t k,
                       double beta, const Tensor& output, const Tensor& mask, const Tensor& win_counts);
void k_winners_backward(const Tensor& grad_output, const Tensor& mask, const Tensor& grad_input);
void k_winners_update_duty_cycle(const Tensor& duty_cycle, const Tensor& win_counts, int64_t samples, double alpha);

}  // namespace wisp::kernels::cuda
