// Layer normalisation with autograd: one fused forward kernel that also saves the row statistics,
// one fused backward kernel (kernels/normalization.h).
#include "autograd/tape.h"
#include "kernels/normalization.h"
#include "layers/functional.h"

namespace wisp {
namespace {

void check_affine_parameter(const char* argument, const Tensor& parameter, const Shape& normalized_shape) {
  if (!parameter.defined()) return;
  check_dtype("layer_norm", argument, parameter, DType::Float32);
  WISP_CHECK(parameter.shape() == normalized_shape, "layer_norm: expected ", argument, " of shape ", normalized_shape,
             " (normalized_shape) but got ", parameter.shape());
}

}  // namespace

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  check_dtype("layer_norm", "input", input, DType::Float32);
  WISP_CHECK(!normalized_shape.empty(), "layer_norm: expected a non-empty normalized_shape (the trailing "
             "dimensions to normalise) but got [] for input of shape ", input.shape());
  const size_t normalized_rank = normalized_shape.size();
  bool trailing_match = normalized_rank <= input.shape().size();
  for (size_t k = 0; trailing_match && k < normalized_rank; ++k)
    trailing_match = input.shape()[input.shape().size() - normalized_rank + k] == normalized_shape[k];
  WISP_CHECK(trailing_match, "layer_norm: expected input with trailing dimensions ", normalized_shape,
             " but got shape ", input.shape());
  check_affine_parameter("weight", weight, normalized_shape);
  check_affine_parameter("bias", bias, normalized_shape);
  WISP_CHECK(eps >= 0, "layer_norm: expected eps >= 0 but got ", eps);

  kernels::LayerNormForward forward = kernels::layer_norm_forward(input, normalized_shape, weight, bias, eps);
  if (!autograd::needs_recording({input, weight, bias})) return forward.output;

  // Saved: the input and weight values (detached handles) and the row statistics.
  const bool need_input = input.requires_grad();
  const bool need_weight = weight.defined() && weight.requires_grad();
  const bool need_bias = bias.defined() && bias.requires_grad();
  Tensor saved_input = input.detach();
  Tensor saved_weight = weight.defined() ? weight.detach() : Tensor();
  Tensor mean = forward.mean, rstd = forward.rstd;
  return autograd::record(
      "LayerNormBackward", forward.output, {input, weight, bias},
      [saved_input, saved_weight, mean, rstd, normalized_shape, need_input, need_weight,
       need_bias](const Tensor& grad_output) -> std::vector<Tensor> {
        kernels::LayerNormGradients gradients = kernels::layer_norm_backward(
            grad_output, saved_input, mean, rstd, saved_weight, normalized_shape, need_input, need_weight, need_bias);
        return {gradients.input, gradients.weight, gradients.bias};
      }, {saved_input, saved_weight});
}

}  // namespace wisp
