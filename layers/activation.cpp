#include "wisp/layers/activation.h"

#include <sstream>
#include <utility>

#include "wisp/ops/functional.h"

namespace wisp::nn {

Tensor ReLU::forward(const Tensor& input) { return relu(input); }

Tensor Tanh::forward(const Tensor& input) { return tanh(input); }

Tensor Sigmoid::forward(const Tensor& input) { return sigmoid(input); }

GELU::GELU(std::string approximate) : approximate_(std::move(approximate)) {
  WISP_CHECK(approximate_ == "none" || approximate_ == "tanh", "GELU: expected approximate 'none' or 'tanh' but got '",
             approximate_, "'");
}

Tensor GELU::forward(const Tensor& input) { return gelu(input, approximate_); }

std::string GELU::extra_repr() const { return "approximate='" + approximate_ + "'"; }

Dropout::Dropout(double p) : p_(p) {
  WISP_CHECK(p >= 0.0 && p <= 1.0, "Dropout: expected a probability p in [0, 1] but got ", p);
}

Tensor Dropout::forward(const Tensor& input) { return dropout(input, p_, is_training()); }

std::string Dropout::extra_repr() const {
  std::ostringstream text;
  text << "p=" << p_;
  return text.str();
}

Tensor Flatten::forward(const Tensor& input) { return flatten(input, start_dim_, end_dim_); }

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim_) + ", end_dim=" + std::to_string(end_dim_);
}

}  // namespace wisp::nn
