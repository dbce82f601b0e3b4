// Log-softmax and the losses (cross-entropy, MSE). Defined in ops/loss.cpp.
// Each op checks its arguments (wisp::Error stating expected vs actual), runs its kernel through
// one dispatch point in kernels/ and, when recording and an input requires grad, records one tape
// entry whose backward captures only what it needs.
#pragma once

#include "wisp/core/tensor.h"

namespace wisp {

// How a loss reduces its per-element values: None keeps them, Mean averages, Sum adds.
enum class Reduction { None, Mean, Sum };

Tensor log_softmax(const Tensor& input, int64_t dim);
// input: logits [N, C] (or [C]); target: Int64 class indices [N] (or []), each in [0, C).
Tensor cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// (input - target)², reduced; same shapes.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

}  // namespace wisp
