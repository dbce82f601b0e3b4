// optim::Optimizer: the base class of optimizers.
#pragma once

#include <vector>

#include "wisp/core/tensor.h"
#include "wisp/optim/schedule.h"

namespace wisp::optim {

// Holds the parameters it updates (tensor handles, so the model's tensors are updated in place)
// and their per-parameter state, indexed by position in the parameter list — never by address.
class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> parameters);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient (parameters without one are skipped): calls
  // update(), counts the step, then calls the update hooks of the updated parameters with their
  // state_of() (core/update_hook.h; e.g. a RigL SparseLinear that rewires its connections and moves
  // their state with them).
  void step();
  // Clears the gradients of all parameters (sets them to undefined).
  void zero_grad();
  const std::vector<Tensor>& parameters() const { return parameters_; }
  // Number of step() calls so far.
  int64_t steps() const { return steps_; }
  // The learning rate the next step() uses: the options' learning rate times their schedule at
  // steps() (optim/schedule.h: the first step uses schedule(0)).
  double learning_rate() const { return base_learning_rate() * schedule()(steps_); }

  // The optimizer's per-element state tensors for `parameter` (same shape as it; e.g. SGD's
  // momentum buffer), in a fixed order; empty when it has none yet. Layers that move connections
  // around (RigL) permute these along with the parameter's values.
  virtual std::vector<Tensor> state_of(const Tensor& parameter) const = 0;

 protected:
  // The optimizer's rule: updates every parameter that has a gradient. New optimizers override
  // this (and state_of); step() wraps it.
  virtual void update() = 0;
  // The options' learning rate and schedule, for learning_rate(); update() uses learning_rate().
  virtual double base_learning_rate() const = 0;
  virtual Schedule schedule() const = 0;

  // Position of `parameter` in parameters(); throws when it is not one of them.
  size_t index_of(const Tensor& parameter) const;

  std::vector<Tensor> parameters_;
  int64_t steps_ = 0;
};

}  // namespace wisp::optim
