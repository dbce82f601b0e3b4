#include "wisp/kernels/linear.h"

#include "wisp/kernels/cpu/linear.h"
#include "wisp/kernels/dispatch.h"
#if WISP_WITH_CUDA
#include "wisp/kernels/cuda/linear.h"
#endif

namespace wisp::kernels {
namespace {

// The ops check shapes with their own messages; these checks keep the kernels memory-safe when
// called directly.
void check_matrix(const char* op, const char* argument, const Tensor& t) {
  check_dtype(op, argument, t, DType::Float32);
  WISP_CHECK(t.dim() == 2, op, ": expected ", argument, " to be a 2-D matrix but got shape ", t.shape());
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  check_matrix("matmul", "the first operand", a);
  check_matrix("matmul", "the second operand", b);
  check_same_device("matmul", a, b);
  const int64_t rows = transpose_a ? a.size(1) : a.size(0);
  const int64_t inner_a = transpose_a ? a.size(0) : a.size(1);
  const int64_t inner_b = transpose_b ? b.size(1) : b.size(0);
  const int64_t cols = transpose_b ? b.size(0) : b.size(1);
  WISP_CHECK(inner_a == inner_b, "matmul: shapes ", a.shape(), (transpose_a ? " (transposed)" : ""), " and ", b.shape(),
             (transpose_b ? " (transposed)" : ""), " cannot be multiplied (", inner_a, " != ", inner_b, ")");
  Tensor out = empty({rows, cols}, TensorOptions(DType::Float32).device(a.device()));
  dispatch(
      "matmul", a, [&] { cpu::matmul(a, b, transpose_a, transpose_b, out); },
      WISP_CUDA_TWIN(cuda::matmul(a, b, transpose_a, transpose_b, out)));
  return out;
}

Tensor linear_forward(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  check_matrix("linear", "input", input);
  check_matrix("linear", "weight", weight);
  check_same_device("linear", input, weight);
  WISP_CHECK(input.size(1) == weight.size(1), "linear: expected input with ", weight.size(1), " columns (weight is ",
             weight.shape(), ") but got shape ", input.shape());
  if (bias.defined()) {
    check_dtype("linear", "bias", bias, DType::Float32);
    check_same_device("linear", input, bias);
    WISP_CHECK(bias.shape() == Shape{weight.size(0)}, "linear: expected bias of shape ", Shape{weight.size(0)},
               " but got ", bias.shape());
  }
  Tensor output = empty({input.size(0), weight.size(0)}, TensorOptions(DType::Float32).device(input.device()));
  dispatch(
      "linear", input, [&] { cpu::linear_forward(input, weight, bias, output); },
      WISP_CUDA_TWIN(cuda::linear_forward(input, weight, bias, output)));
  return output;
}

LinearGradients linear_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight, bool need_input,
                                bool need_weight, bool need_bias) {
  check_matrix("linear backward", "grad_output", grad_output);
  const int64_t rows = grad_output.size(0), out_features = grad_output.size(1);
  const TensorOptions options = TensorOptions(DType::Float32).device(grad_output.device());
  LinearGradients gradients;
  if (need_input) {
    check_matrix("linear backward", "weight", weight);
    check_same_device("linear backward", grad_output, weight);
    WISP_CHECK(weight.size(0) == out_features, "linear backward: expected weight with ", out_features,
               " rows for grad_output of shape ", grad_output.shape(), " but got shape ", weight.shape());
    gradients.input = empty({rows, weight.size(1)}, options);
  }
  if (need_weight) {
    check_matrix("linear backward", "input", input);
    check_same_device("linear backward", grad_output, input);
    WISP_CHECK(input.size(0) == rows, "linear backward: expected input with ", rows, " rows for grad_output of shape ",
               grad_output.shape(), " but got shape ", input.shape());
    gradients.weight = empty({out_features, input.size(1)}, options);
  }
  if (need_bias) gradients.bias = empty({out_features}, options);
  dispatch(
      "linear backward", grad_output,
      [&] { cpu::linear_backward(grad_output, input, weight, gradients.input, gradients.weight, gradients.bias); },
      WISP_CUDA_TWIN(
          cuda::linear_backward(grad_output, input, weight, gradients.input, gradients.weight, gradients.bias)));
  return gradients;
}

}  // namespace wisp::kernels
