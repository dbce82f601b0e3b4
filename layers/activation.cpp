#include "wisp/layers/activation.h"

#include "wisp/ops/functional.h"

namespace wisp::nn {

Tensor ReLU::forward(const Tensor& input) { return relu(input); }

Tensor Flatten::forward(const Tensor& input) { return flatten(input, start_dim_, end_dim_); }

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim_) + ", end_dim=" + std::to_string(end_dim_);
}

}  // namespace wisp::nn
