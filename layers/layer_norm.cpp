#include "wisp/layers/layer_norm.h"

#include <sstream>

#include "wisp/core/factories.h"
#include "wisp/ops/functional.h"

namespace wisp::nn {

LayerNorm::LayerNorm(int64_t normalized_size, LayerNormOptions options) : LayerNorm(Shape{normalized_size}, options) {}

LayerNorm::LayerNorm(Shape normalized_shape, LayerNormOptions options)
    : normalized_shape_(std::move(normalized_shape)), options_(options) {
  WISP_CHECK(!normalized_shape_.empty(), "LayerNorm: expected at least one normalized dimension");
  for (int64_t d : normalized_shape_)
    WISP_CHECK(d > 0, "LayerNorm: expected positive sizes but got normalized_shape ", normalized_shape_);
  WISP_CHECK(options.eps() > 0, "LayerNorm: expected eps > 0 but got ", options.eps());
  if (options.elementwise_affine()) {
    weight_ = register_parameter("weight", ones(normalized_shape_));
    bias_ = register_parameter("bias", zeros(normalized_shape_));
  }
}

Tensor LayerNorm::forward(const Tensor& input) {
  return layer_norm(input, normalized_shape_, weight_, bias_, options_.eps());
}

std::string LayerNorm::extra_repr() const {
  std::ostringstream text;
  text << normalized_shape_ << ", eps=" << options_.eps()
       << ", elementwise_affine=" << (options_.elementwise_affine() ? "true" : "false");
  return text.str();
}

}  // namespace wisp::nn
