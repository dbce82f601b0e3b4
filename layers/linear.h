// nn::Linear: y = x Wᵀ + b, a dense fully connected layer.
#pragma once

#include <cstdint>

#include "wisp/core/arguments.h"
#include "wisp/layers/module.h"

namespace wisp::nn {

struct LinearOptions {
  WISP_ARG(bool, bias, true);
};

// Parameters: "weight" [out_features, in_features] and "bias" [out_features], both initialised
// U(-1/√in_features, 1/√in_features) from the default generator, as PyTorch's nn.Linear does.
// Input [..., in_features] (or [in_features]); output [..., out_features].
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, LinearOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "Linear"; }
  std::string extra_repr() const override;

  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }  // undefined without bias
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

 private:
  int64_t in_features_, out_features_;
  Tensor weight_, bias_;
};

}  // namespace wisp::nn
