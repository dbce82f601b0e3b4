// A custom module: a linear layer, softplus, centring by a per-feature mean and a learned scale.
#pragma once

#include <wisp/wisp.h>

#include <memory>
#include <sstream>
#include <string>

#include "softplus.h"

namespace example {

// y = (softplus(x Wᵀ + b) − μ) ⊙ scale, where μ is the per-feature mean of the batch in training
// (which also updates the buffer running_mean ← (1 − momentum) · running_mean + momentum · μ) and
// running_mean in evaluation. Input [B, in_features] float32 on the CPU; output [B, out_features].
class CenteredSoftplus : public wisp::nn::Module {
 public:
  CenteredSoftplus(int64_t in_features, int64_t out_features, double momentum = 0.1)
      : in_features_(in_features), out_features_(out_features), momentum_(momentum) {
    WISP_CHECK(momentum > 0 && momentum <= 1, "CenteredSoftplus: expected momentum in (0, 1] but got ", momentum);
    // Children, parameters and buffers are registered by name: parameters(), to(), train()/eval(),
    // zero_grad() and printing find them there.
    fc_ = register_module("fc", std::make_shared<wisp::nn::Linear>(in_features, out_features));
    scale_ = register_parameter("scale", wisp::ones({out_features}));
    running_mean_ = register_buffer("running_mean", wisp::zeros({out_features}));
  }

  wisp::Tensor forward(const wisp::Tensor& input) override {
    WISP_CHECK(input.dim() == 2 && input.size(1) == in_features_, "CenteredSoftplus: expected input [B, ", in_features_,
               "] but got shape ", input.shape());
    const wisp::Tensor activations = softplus((*fc_)(input));
    wisp::Tensor center = running_mean_;
    if (is_training()) {
      center = wisp::mean(activations, 0);
      wisp::NoGradGuard no_grad;  // state updates are not recorded (and center requires grad)
      running_mean_.mul_(1 - momentum_).add_(center, momentum_);
    }
    return (activations - center) * scale_;
  }

  // Printed inside the parentheses: CenteredSoftplus(in_features=4, out_features=3, momentum=0.1 ...
  std::string extra_repr() const override {
    std::ostringstream text;
    text << "in_features=" << in_features_ << ", out_features=" << out_features_ << ", momentum=" << momentum_;
    return text.str();
  }

  const wisp::Tensor& running_mean() const { return running_mean_; }

 private:
  int64_t in_features_, out_features_;
  double momentum_;
  std::shared_ptr<wisp::nn::Linear> fc_;
  wisp::Tensor scale_, running_mean_;
};

}  // namespace example
