// Dense products with autograd: matmul (PyTorch semantics for 1-D and 2-D operands, and
// [..., n, k] x [k, m]) and linear (y = x weightᵀ + bias). Both fold leading dimensions into the
// rows of one 2-D product, so a single GEMM kernel serves every supported shape.
#include "wisp/kernels/linear.h"
#include "wisp/autograd/tape.h"
#include "wisp/ops/linear.h"

namespace wisp {
namespace {

// A detached view of `t` with a new shape: for feeding kernels (and reshaping their results)
// without recording anything on the tape.
Tensor reshaped(const Tensor& t, const Shape& shape) {
  return t.shape() == shape ? t.detach() : t.detach().view(shape);
}

// Product of all sizes but the last (the rows of a [..., k] tensor folded to 2-D); 1 for 1-D.
int64_t leading_rows(const Shape& shape) {
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < shape.size(); ++d) rows *= shape[d];
  return rows;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_dtype("matmul", "the first operand", a, DType::Float32);
  check_dtype("matmul", "the second operand", b, DType::Float32);
  check_same_device("matmul", a, b);
  WISP_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: expected operands with at least 1 dimension but got shapes ",
             a.shape(), " and ", b.shape());
  WISP_CHECK(b.dim() <= 2, "matmul: shapes ", a.shape(), " and ", b.shape(),
             " are not supported (supported: 1-D and 2-D operands, and [..., n, k] times [k, m] or [k]; products "
             "with a batched second operand are not implemented)");
  const int64_t inner = a.size(-1);
  const int64_t inner_b = b.size(0);
  WISP_CHECK(inner == inner_b, "matmul: shapes ", a.shape(), " and ", b.shape(), " cannot be multiplied (", inner,
             " != ", inner_b, ")");

  // Fold to one 2-D product: a [..., n, k] -> [rows, k] (1-D: [1, k]); b [k] -> [k, 1].
  const int64_t rows = leading_rows(a.shape());
  const int64_t cols = b.dim() == 2 ? b.size(1) : 1;
  const Shape a_matrix_shape{rows, inner}, b_matrix_shape{inner, cols};
  const Tensor a_matrix = reshaped(a, a_matrix_shape), b_matrix = reshaped(b, b_matrix_shape);
  std::vector<int64_t> out_dims(a.shape().begin(), a.shape().end() - 1);  // a's leading sizes
  if (b.dim() == 2) out_dims.push_back(cols);
  const Shape out_shape(out_dims);
  Tensor out = reshaped(kernels::matmul(a_matrix, b_matrix), out_shape);
  if (!autograd::needs_recording({a, b})) return out;

  // grad_a = g · bᵀ needs b; grad_b = aᵀ · g needs a: save each only when the other needs a gradient.
  const bool a_needs = a.requires_grad(), b_needs = b.requires_grad();
  const Tensor saved_a = b_needs ? a_matrix : Tensor();
  const Tensor saved_b = a_needs ? b_matrix : Tensor();
  const Shape a_shape = a.shape(), b_shape = b.shape();
  return autograd::record("MatmulBackward", out, {a, b},
                          [=](const Tensor& g) -> std::vector<Tensor> {
                            const Tensor g_matrix = reshaped(g, Shape{rows, cols});
                            Tensor grad_a, grad_b;
                            if (a_needs) grad_a = reshaped(kernels::matmul(g_matrix, saved_b, false, true), a_shape);
                            if (b_needs) grad_b = reshaped(kernels::matmul(saved_a, g_matrix, true, false), b_shape);
                            return {grad_a, grad_b};
                          },
                          {saved_a, saved_b});
}

Tensor Tensor::matmul(const Tensor& other) const { return wisp::matmul(*this, other); }

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  check_dtype("linear", "input", input, DType::Float32);
  check_dtype("linear", "weight", weight, DType::Float32);
  check_same_device("linear", input, weight);
  WISP_CHECK(weight.dim() == 2, "linear: expected a 2-D weight [out_features, in_features] but got shape ",
             weight.shape());
  WISP_CHECK(input.dim() >= 1, "linear: expected input of shape [..., ", weight.size(1),
             "] but got a 0-dimensional tensor");
  const int64_t in_features = weight.size(1), out_features = weight.size(0);
  WISP_CHECK(input.size(-1) == in_features, "linear: expected input with last dimension ", in_features, " (weight is ",
             weight.shape(), ") but got shape ", input.shape());
  if (bias.defined()) {
    check_dtype("linear", "bias", bias, DType::Float32);
    check_same_device("linear", input, bias);
    WISP_CHECK(bias.shape() == Shape{out_features}, "linear: expected bias of shape ", Shape{out_features},
               " (weight is ", weight.shape(), ") but got shape ", bias.shape());
  }

  // x [..., in] -> [rows, in] -> y [rows, out] -> [..., out]; a 1-D input is one row.
  const int64_t rows = leading_rows(input.shape());
  const Tensor input_matrix = reshaped(input, Shape{rows, in_features});
  std::vector<int64_t> out_dims(input.shape().begin(), input.shape().end() - 1);
  out_dims.push_back(out_features);
  Tensor out = reshaped(kernels::linear_forward(input_matrix, weight.detach(), bias.defined() ? bias.detach() : bias),
                        Shape(out_dims));
  if (!autograd::needs_recording({input, weight, bias})) return out;

  // Each gradient is computed only for an input that requires it; the saved tensors follow:
  // grad_input = g · W needs W, grad_weight = gᵀ · x needs x, grad_bias needs neither.
  const bool input_needs = input.requires_grad(), weight_needs = weight.requires_grad();
  const bool bias_needs = bias.defined() && bias.requires_grad();
  const Tensor saved_input = weight_needs ? input_matrix : Tensor();
  const Tensor saved_weight = input_needs ? weight.detach() : Tensor();
  const Shape input_shape = input.shape();
  return autograd::record(
      "LinearBackward", out, {input, weight, bias},
      [=](const Tensor& g) -> std::vector<Tensor> {
        const kernels::LinearGradients grads = kernels::linear_backward(
            reshaped(g, Shape{rows, out_features}), saved_input, saved_weight, input_needs, weight_needs, bias_needs);
        return {input_needs ? reshaped(grads.input, input_shape) : Tensor(), grads.weight, grads.bias};
      },
      {saved_input, saved_weight});
}

}  // namespace wisp
