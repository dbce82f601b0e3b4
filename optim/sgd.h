// optim::SGD: stochastic gradient descent with momentum, dampening, Nesterov and weight decay,
// with PyTorch's exact semantics (torch.optim.SGD).
#pragma once

#include <iosfwd>

#include "wisp/core/arguments.h"
#include "wisp/optim/optimizer.h"
#include "wisp/optim/schedule.h"

namespace wisp::optim {

struct SGDOptions {
  explicit SGDOptions(double learning_rate) : learning_rate_(learning_rate) {}
  // PyTorch's name for learning_rate, hand-written because it sets the same member.
  SGDOptions& lr(double value) { return learning_rate(value); }
  double lr() const { return learning_rate_; }
  // Throws wisp::Error, naming the value, for options SGD refuses (see below); SGD checks them
  // itself, this lets a program check them before it builds its model.
  void check() const;

  WISP_ARG(double, learning_rate, 0.0);  // always set by the constructor
  WISP_ARG(double, momentum, 0.0);
  WISP_ARG(double, dampening, 0.0);
  WISP_ARG(double, weight_decay, 0.0);
  WISP_ARG(bool, nesterov, false);
  WISP_ARG(Schedule, schedule, constant());  // multiplies learning_rate (optim/schedule.h)
};

// For each parameter p with gradient g (see kernels/sgd.h for the fused update):
//   d = g + weight_decay · p
//   if momentum ≠ 0: b = d on the first step, else momentum · b + (1 − dampening) · d;
//                    d = d + momentum · b (Nesterov) or b
//   p = p − lr · d, with lr = learning_rate(): the base rate times the schedule at steps()
// Errors: negative lr/momentum/weight_decay; Nesterov without momentum or with dampening.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> parameters, SGDOptions options);
  std::vector<Tensor> state_of(const Tensor& parameter) const override;
  std::string kind() const override { return "SGD"; }

  const SGDOptions& options() const { return options_; }
  // Changes the base learning rate for later steps (a schedule in the options is the stateless
  // alternative: optim/schedule.h).
  void set_learning_rate(double learning_rate);
  // The momentum buffer of `parameter`; undefined before its first step or without momentum.
  Tensor momentum_buffer(const Tensor& parameter) const;

 protected:
  void update() override;
  double base_learning_rate() const override { return options_.learning_rate(); }
  Schedule schedule() const override { return options_.schedule(); }
  // Checkpoints: options lr, momentum, dampening, weight_decay, nesterov and schedule (its
  // description); per parameter "momentum_buffer" once created (never without momentum).
  std::map<std::string, std::string> options_text() const override;
  ParameterState parameter_state(size_t index) const override;
  void check_parameter_state(size_t index, const ParameterState& state) const override;
  void set_parameter_state(size_t index, ParameterState state) override;

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_buffers_;  // parallel to parameters(); undefined until first used
};

std::ostream& operator<<(std::ostream& stream, const SGDOptions& options);

}  // namespace wisp::optim
