// Softmax, log-softmax and the losses (cross-entropy, MSE). Defined in ops/loss.cpp.
// Each op checks its arguments (wisp::Error stating expected vs actual), runs its kernel through
// one dispatch point in kernels/ and, when recording and an input requires grad, records one tape
// entry whose backward captures only what it needs.
#pragma once

#include "wisp/core/tensor.h"

namespace wisp {

// How a loss reduces its per-element values: None keeps them, Mean averages, Sum adds.
enum class Reduction { None, Mean, Sum };

// Softmax and log-softmax over dimension `dim` (negative counts from the end), float32, any shape
// (a 0-dimensional tensor is one row of one element). Both subtract the row's maximum before exp,
// so large logits neither overflow nor lose precision; softmax(x) equals exp(log_softmax(x)) to
// float rounding. Their gradients read only the output.
Tensor softmax(const Tensor& input, int64_t dim);
Tensor log_softmax(const Tensor& input, int64_t dim);
// input: logits [N, C] (or [C]); target: Int64 class indices [N] (or []), each in [0, C).
Tensor cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// (input - target)², reduced; same shapes.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

}  // namespace wisp
