#include "wisp/layers/linear.h"

#include <cmath>
#include <sstream>

#include "wisp/autograd/grad_mode.h"
#include "wisp/core/factories.h"
#include "wisp/ops/functional.h"

namespace wisp::nn {

Linear::Linear(int64_t in_features, int64_t out_features, LinearOptions options)
    : in_features_(in_features), out_features_(out_features) {
  WISP_CHECK(in_features > 0 && out_features > 0, "Linear: expected positive in_features and out_features but got ",
             in_features, " and ", out_features);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  // U(-bound, bound): PyTorch's kaiming_uniform_(a=√5) for the weight reduces to exactly this.
  {
    NoGradGuard no_grad;
    weight_ = register_parameter("weight", rand({out_features, in_features}) * (2 * bound) - bound);
    if (options.bias()) bias_ = register_parameter("bias", rand({out_features}) * (2 * bound) - bound);
  }
}

Tensor Linear::forward(const Tensor& input) { return linear(input, weight_, bias_); }

std::string Linear::extra_repr() const {
  std::ostringstream text;
  text << "in_features=" << in_features_ << ", out_features=" << out_features_
       << ", bias=" << (bias_.defined() ? "true" : "false");
  return text.str();
}

}  // namespace wisp::nn
