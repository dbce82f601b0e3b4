// Ops that copy elements into a new arrangement: cat, repeat_interleave. Defined in
// ops/indexing.cpp.
// Each op checks its arguments (wisp::Error stating expected vs actual), runs its kernel through
// one dispatch point in kernels/ and, when recording and an input requires grad, records one tape
// entry whose backward captures only what it needs.
#pragma once

#include <cstdint>
#include <vector>

#include "wisp/core/tensor.h"

namespace wisp {

// Concatenates along `dim`; all tensors have the same dtype, device and other sizes.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Repeats each element `repeats` times: of the flattened tensor, or along `dim`
// ([a, b].repeat_interleave(2) = [a, a, b, b]).
Tensor repeat_interleave(const Tensor& a, int64_t repeats);
Tensor repeat_interleave(const Tensor& a, int64_t repeats, int64_t dim);

}  // namespace wisp
