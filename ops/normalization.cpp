// Layer normalisation with autograd: one fused forward kernel that also saves the row statistics,
// one fused backward kernel (kernels/normalization.h).
#include "wisp/kernels/normalization.h"
#include "wisp/autograd/tape.h"
#include "wisp/ops/normalization.h"

namespace wisp {

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  check_dtype("layer_norm", "input", input, DType::Float32);
  WISP_CHECK(!normalized_shape.empty(),
             "layer_norm: expected a non-empty normalized_shape (the trailing "
             "dimensions to normalise) but got [] for input of shape ",
             input.shape());
  WISP_CHECK(eps >= 0, "layer_norm: expected eps >= 0 but got ", eps);

  // The kernel's dispatch point checks the input's trailing dimensions and the weight and bias.
  kernels::LayerNormForward forward = kernels::layer_norm_forward(input, normalized_shape, weight, bias, eps);
  if (!autograd::needs_recording({input, weight, bias})) return forward.output;

  // Saved: the input and weight values (detached handles) and the row statistics.
  const bool need_input = input.requires_grad();
  const bool need_weight = weight.defined() && weight.requires_grad();
  const bool need_bias = bias.defined() && bias.requires_grad();
  Tensor saved_input = input.detach();
  Tensor saved_weight = weight.defined() ? weight.detach() : Tensor();
  Tensor mean = forward.mean, rstd = forward.rstd;
  return autograd::record("LayerNormBackward", forward.output, {input, weight, bias},
                          [saved_input, saved_weight, mean, rstd, normalized_shape, need_input, need_weight,
                           need_bias](const Tensor& grad_output) -> std::vector<Tensor> {
                            kernels::LayerNormGradients gradients =
                                kernels::layer_norm_backward(grad_output, saved_input, mean, rstd, saved_weight,
                                                             normalized_shape, need_input, need_weight, need_bias);
                            return {gradients.input, gradients.weight, gradients.bias};
                          },
                          {saved_input, saved_weight});
}

}  // namespace wisp
