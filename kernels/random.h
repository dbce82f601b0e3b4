// Dispatch points for the random kernels: each checks its arguments, allocates the output and calls
// the CPU twin (kernels/cpu/random.h) or the CUDA twin (kernels/cuda/random.h) with the same
// signature. They take the stream explicitly — element i draws counter first_counter + i of stream
// `key` (core/random.h) — so results depend only on (key, first_counter), never on the device or the
// thread count; the ops in ops/random.h reserve the counters from a Generator. Not recorded on the
// tape.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"

namespace wisp::kernels {

// out[i] = 1 with probability probabilities[i], else 0; float32 in and out, one shape.
Tensor bernoulli(const Tensor& probabilities, uint64_t key, uint64_t first_counter);
// out[i] = value with probability `probability`, else 0; float32 of `shape` on `device`. (Dropout's
// mask is this with value = 1 / (1 − p).)
Tensor bernoulli_scalar(const Shape& shape, Device device, double probability, double value, uint64_t key,
                        uint64_t first_counter);

}  // namespace wisp::kernels
