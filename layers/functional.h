// The differentiable ops (and a few non-differentiable ones), as free functions in namespace wisp.
//
// Each op: checks its arguments (wisp::Error stating expected vs actual), runs its kernel through
// one dispatch point in kernels/, and — when gradient recording is on and an input requires grad —
// records one tape entry whose backward captures only what it needs. All float ops take float32.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace wisp {

// How a loss reduces its per-element values: None keeps them, Mean averages, Sum adds.
enum class Reduction { None, Mean, Sum };

// ---- elementwise arithmetic, with PyTorch broadcasting (trailing dimensions aligned) -------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);  // float32 only
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
// max(x, 0); the gradient at exactly 0 is 0 (PyTorch's convention).
Tensor relu(const Tensor& a);

// ---- reductions ---------------------------------------------------------------------------------
Tensor sum(const Tensor& a);  // all elements; integer inputs give an Int64 scalar
Tensor sum(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& a);  // float32 only
Tensor mean(const Tensor& a, int64_t dim, bool keepdim = false);

// ---- shape ---------------------------------------------------------------------------------------
// Same elements, new shape, shared storage; one size may be -1 (inferred).
Tensor view(const Tensor& a, const Shape& shape);
Tensor reshape(const Tensor& a, const Shape& shape);
// Merges dimensions start_dim..end_dim into one.
Tensor flatten(const Tensor& a, int64_t start_dim = 0, int64_t end_dim = -1);
// Concatenates along `dim`; all tensors have the same dtype, device and other sizes.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Repeats each element `repeats` times: of the flattened tensor, or along `dim`
// ([a, b].repeat_interleave(2) = [a, a, b, b]).
Tensor repeat_interleave(const Tensor& a, int64_t repeats);
Tensor repeat_interleave(const Tensor& a, int64_t repeats, int64_t dim);

// ---- products ------------------------------------------------------------------------------------
// PyTorch's matmul for 1-D and 2-D operands, and [..., n, k] x [k, m] (batch folded into rows).
Tensor matmul(const Tensor& a, const Tensor& b);
// y = x weightᵀ + bias: x [..., in], weight [out, in], bias [out] or undefined.
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor());

// ---- normalisation -------------------------------------------------------------------------------
// Normalises over the trailing dimensions `normalized_shape` (biased variance, like PyTorch), then
// scales by `weight` and shifts by `bias` when they are defined (both of shape normalized_shape).
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

// ---- softmax and losses --------------------------------------------------------------------------
Tensor log_softmax(const Tensor& input, int64_t dim);
// input: logits [N, C] (or [C]); target: Int64 class indices [N] (or []), each in [0, C).
Tensor cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// (input - target)², reduced; same shapes.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

// ---- not differentiable -------------------------------------------------------------------------
// Index of the largest element (the first one on ties), Int64.
Tensor argmax(const Tensor& a);
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim = false);
// Elementwise equality with broadcasting, UInt8 (1 = equal). Summing it gives an Int64 count.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, const Tensor& b);

}  // namespace wisp
