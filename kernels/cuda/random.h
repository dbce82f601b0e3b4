// CUDA twins of kernels/cpu/random.h: the same signatures, contracts and numbers (the same counters
// of the same stream). A plain C++ header; compiled only when WISP_WITH_CUDA.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"

namespace wisp::kernels::cuda {

void bernoulli(const Tensor& probabilities, uint64_t key, uint64_t first_counter, const Tensor& out);
void bernoulli_scalar(float probability, float value, uint64_t key, uint64_t first_counter, const Tensor& out);

}  // namespace wisp::kernels::cuda
