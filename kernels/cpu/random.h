// CPU random kernels. Element i of the output draws counter first_counter + i of stream `key`
// (kernels/random_math.h); outputs are allocated by the dispatch point (kernels/random.h), contiguous.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"

namespace wisp::kernels::cpu {

// probabilities, out: float32, one shape; out[i] = 1 with probability probabilities[i], else 0.
void bernoulli(const Tensor& probabilities, uint64_t key, uint64_t first_counter, const Tensor& out);
// out: float32, any shape; out[i] = value with probability `probability`, else 0.
void bernoulli_scalar(float probability, float value, uint64_t key, uint64_t first_counter, const Tensor& out);

}  // namespace wisp::kernels::cpu
