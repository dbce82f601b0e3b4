// optim::SGD: stochastic gradient descent with momentum, dampening, Nesterov and weight decay,
// with PyTorch's exact semantics (torch.optim.SGD).
#pragma once

#include <iosfwd>

#include "wisp/optim/optimizer.h"

namespace wisp::optim {

struct SGDOptions {
  explicit SGDOptions(double learning_rate) : learning_rate_(learning_rate) {}
  SGDOptions& learning_rate(double value) {
    learning_rate_ = value;
    return *this;
  }
  SGDOptions& lr(double value) { return learning_rate(value); }
  SGDOptions& momentum(double value) {
    momentum_ = value;
    return *this;
  }
  SGDOptions& dampening(double value) {
    dampening_ = value;
    return *this;
  }
  SGDOptions& weight_decay(double value) {
    weight_decay_ = value;
    return *this;
  }
  SGDOptions& nesterov(bool value) {
    nesterov_ = value;
    return *this;
  }
  double learning_rate() const { return learning_rate_; }
  double lr() const { return learning_rate_; }
  double momentum() const { return momentum_; }
  double dampening() const { return dampening_; }
  double weight_decay() const { return weight_decay_; }
  bool nesterov() const { return nesterov_; }
  // Throws wisp::Error, naming the value, for options SGD refuses (see below); SGD checks them
  // itself, this lets a program check them before it builds its model.
  void check() const;

 private:
  double learning_rate_;
  double momentum_ = 0, dampening_ = 0, weight_decay_ = 0;
  bool nesterov_ = false;
};

// For each parameter p with gradient g (see kernels/sgd.h for the fused update):
//   d = g + weight_decay · p
//   if momentum ≠ 0: b = d on the first step, else momentum · b + (1 − dampening) · d;
//                    d = d + momentum · b (Nesterov) or b
//   p = p − lr · d
// Errors: negative lr/momentum/weight_decay; Nesterov without momentum or with dampening.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> parameters, SGDOptions options);
  std::vector<Tensor> state_of(const Tensor& parameter) const override;

  const SGDOptions& options() const { return options_; }
  // Changes the learning rate for later steps (for schedules).
  void set_learning_rate(double learning_rate);
  // The momentum buffer of `parameter`; undefined before its first step or without momentum.
  Tensor momentum_buffer(const Tensor& parameter) const;

 protected:
  void update() override;

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_buffers_;  // parallel to parameters(); undefined until first used
};

std::ostream& operator<<(std::ostream& stream, const SGDOptions& options);

}  // namespace wisp::optim
