#include "wisp/kernels/normalization.h"

#include <algorithm>
#include <utility>

#include "wisp/kernels/cpu/normalization.h"
#include "wisp/kernels/dispatch.h"
#if WISP_WITH_CUDA
#include "wisp/kernels/cuda/normalization.h"
#endif

namespace wisp::kernels {
namespace {

struct RowsAndFeatures {
  int64_t rows = 0, features = 0;
};

// rows = the product of the leading dimensions (those before normalized_shape).
RowsAndFeatures split_rows(const Tensor& input, const Shape& normalized_shape) {
  RowsAndFeatures split;
  split.features = normalized_shape.numel();
  split.rows = 1;
  for (size_t d = 0; d + normalized_shape.size() < input.shape().size(); ++d) split.rows *= input.shape()[d];
  return split;
}

// What the kernels read: a float32 input whose trailing dimensions are normalized_shape, and the
// optional weight (and bias) of that shape on the input's device.
void check_layer_norm_operands(const char* op, const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                               const Tensor& bias) {
  check_dtype(op, "input", input, DType::Float32);
  const Shape& shape = input.shape();
  const bool trailing_match =
      !normalized_shape.empty() && normalized_shape.size() <= shape.size() &&
      std::equal(normalized_shape.begin(), normalized_shape.end(), shape.end() - normalized_shape.size());
  WISP_CHECK(trailing_match, op, ": expected input with trailing dimensions ", normalized_shape, " but got shape ",
             shape);
  for (const auto& [name, parameter] : {std::pair<const char*, const Tensor*>{"weight", &weight}, {"bias", &bias}}) {
    if (!parameter->defined()) continue;
    check_same_device(op, input, *parameter);
    check_operand(op, name, *parameter, DType::Float32, normalized_shape);
  }
}

}  // namespace

LayerNormForward layer_norm_forward(const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                                    const Tensor& bias, double eps) {
  check_layer_norm_operands("layer_norm", input, normalized_shape, weight, bias);
  const RowsAndFeatures split = split_rows(input, normalized_shape);
  const TensorOptions options = TensorOptions(DType::Float32).device(input.device());
  LayerNormForward result;
  result.output = empty(input.shape(), options);
  result.mean = empty({split.rows}, options);
  result.rstd = empty({split.rows}, options);
  dispatch(
      "layer_norm", input,
      [&] {
        cpu::layer_norm_forward(input, weight, bias, eps, split.rows, split.features, result.output, result.mean,
                                result.rstd);
      },
      WISP_CUDA_TWIN(cuda::layer_norm_forward(input, weight, bias, eps, split.rows, split.features, result.output,
                                              result.mean, result.rstd)));
  return result;
}

LayerNormGradients layer_norm_backward(const Tensor& grad_output, const Tensor& input, const Tensor& mean,
                                       const Tensor& rstd, const Tensor& weight, const Shape& normalized_shape,
                                       bool need_input, bool need_weight, bool need_bias) {
  constexpr const char* op = "layer_norm backward";
  check_same_device(op, input, grad_output);
  check_layer_norm_operands(op, input, normalized_shape, weight, Tensor());
  check_dtype(op, "gradient", grad_output, DType::Float32);
  WISP_CHECK(grad_output.shape() == input.shape(), "layer_norm backward: expected a gradient of shape ", input.shape(),
             " but got ", grad_output.shape());
  const RowsAndFeatures split = split_rows(input, normalized_shape);
  for (const auto& [name, statistic] : {std::pair<const char*, const Tensor*>{"mean", &mean}, {"rstd", &rstd}}) {
    check_same_device(op, input, *statistic);
    check_operand(op, name, *statistic, DType::Float32, {split.rows});
  }
  const TensorOptions options = TensorOptions(DType::Float32).device(input.device());
  LayerNormGradients gradients;
  if (need_input) gradients.input = empty(input.shape(), options);
  if (need_weight) gradients.weight = empty(normalized_shape, options);
  if (need_bias) gradients.bias = empty(normalized_shape, options);
  dispatch(
      "layer_norm backward", input,
      [&] {
        cpu::layer_norm_backward(grad_output, input, mean, rstd, weight, split.rows, split.features, gradients.input,
                                 gradients.weight, gradients.bias);
      },
      WISP_CUDA_TWIN(cuda::layer_norm_backward(grad_output, input, mean, rstd, weight, split.rows, split.features,
                                               gradients.input, gradients.weight, gradients.bias)));
  return gradients;
}

}  // namespace wisp::kernels
