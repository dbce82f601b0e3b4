// Random ops: Bernoulli draws and dropout. Defined in ops/random.cpp.
//
// Each op reserves one counter per element from a Generator (by default core/random.h's
// default_generator(), seeded by manual_seed) and draws element i from counter first + i, so the
// numbers depend only on the seed and the order of calls: not on the thread count, and not on the
// device (the CPU and CUDA kernels compute the same numbers).
#pragma once

#include "wisp/core/random.h"
#include "wisp/core/tensor.h"

namespace wisp {

// 1 with probability p[i], else 0, elementwise: probabilities float32 in [0, 1] (anything else, NaN
// included, is a wisp::Error), the result float32 of the same shape and device. Not differentiable.
Tensor bernoulli(const Tensor& probabilities, Generator& generator = default_generator());
// 1 with probability p, else 0, in a tensor of input's shape, dtype and device (input's values are
// not read), as PyTorch's torch.bernoulli(input, p). p in [0, 1].
Tensor bernoulli(const Tensor& input, double p, Generator& generator = default_generator());

// Inverted dropout, as PyTorch's nn.functional.dropout: in training, each element is zeroed with
// probability p and the others are scaled by 1 / (1 − p), so the expected value is unchanged; the
// gradient is the output gradient through the same mask and scale. Not training, or p = 0: the
// input itself, and nothing is drawn. p = 1: input · 0 (zeros, NaN kept), nothing drawn. p outside
// [0, 1] is a wisp::Error. Float32, any shape and device.
Tensor dropout(const Tensor& input, double p = 0.5, bool training = true, Generator& generator = default_generator());

}  // namespace wisp
