// nn::LayerNorm: normalises over the trailing dimensions, then scales and shifts (PyTorch's).
#pragma once

#include "wisp/core/arguments.h"
#include "wisp/layers/module.h"

namespace wisp::nn {

struct LayerNormOptions {
  WISP_ARG(double, eps, 1e-5);
  WISP_ARG(bool, elementwise_affine, true);
};

// Parameters (with elementwise_affine): "weight" (ones) and "bias" (zeros) of normalized_shape.
// Input [..., *normalized_shape]; output the same shape.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t normalized_size, LayerNormOptions options = {});
  explicit LayerNorm(Shape normalized_shape, LayerNormOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;

  const Tensor& weight() const { return weight_; }  // undefined without elementwise_affine
  const Tensor& bias() const { return bias_; }
  const Shape& normalized_shape() const { return normalized_shape_; }

 private:
  Shape normalized_shape_;
  LayerNormOptions options_;
  Tensor weight_, bias_;
};

}  // namespace wisp::nn
