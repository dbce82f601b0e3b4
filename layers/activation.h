// Parameter-free layers: ReLU and Flatten.
#pragma once

#include <cstdint>
#include <string>

#include "wisp/layers/module.h"

namespace wisp::nn {

// max(x, 0), elementwise; any shape.
class ReLU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "ReLU"; }
};

// Merges dimensions start_dim..end_dim (default: all but the batch dimension, as PyTorch's
// nn.Flatten): [N, 1, 28, 28] -> [N, 784]. Shares storage with the input.
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim_(start_dim), end_dim_(end_dim) {}
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "Flatten"; }
  std::string extra_repr() const override;

 private:
  int64_t start_dim_, end_dim_;
};

}  // namespace wisp::nn
