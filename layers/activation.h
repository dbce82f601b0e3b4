// Parameter-free layers: the activations ReLU, Tanh, Sigmoid and GELU, Dropout, and Flatten. Each
// applies its op from ops/ (ops/elementwise.h, ops/random.h) to an input of any shape; the output
// has the input's shape.
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

// tanh(x), elementwise.
class Tanh : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "Tanh"; }
};

// 1 / (1 + exp(−x)), elementwise.
class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "Sigmoid"; }
};

// x · Φ(x) (exact, erf-based) or, with approximate = "tanh", PyTorch's tanh approximation
// (gelu in ops/elementwise.h). Prints as PyTorch: GELU(approximate='none').
class GELU : public Module {
 public:
  // approximate: "none" or "tanh"; anything else is a wisp::Error.
  explicit GELU(std::string approximate = "none");
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "GELU"; }
  std::string extra_repr() const override;
  const std::string& approximate() const { return approximate_; }

 private:
  std::string approximate_;
};

// Inverted dropout (dropout in ops/random.h): in train() each element is zeroed with probability p
// and the others scaled by 1 / (1 − p); in eval() the input passes unchanged. The mask is drawn
// from the default generator (manual_seed makes it reproducible). p in [0, 1], else a wisp::Error.
// Prints as Dropout(p=0.5).
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  double p() const { return p_; }

 private:
  double p_;
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
