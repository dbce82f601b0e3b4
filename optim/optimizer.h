// optim::Optimizer: the base class of optimizers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "wisp/core/tensor.h"
#include "wisp/optim/schedule.h"

namespace wisp::optim {

// One parameter's optimizer state by name, as a checkpoint holds it, with PyTorch's names
// ("momentum_buffer"; "exp_avg", "exp_avg_sq", "max_exp_avg_sq" and the counter "step"). A state
// tensor not created yet (before the parameter's first step) is absent from `tensors`.
struct ParameterState {
  std::map<std::string, Tensor> tensors;  // float32, each of the parameter's shape
  std::map<std::string, int64_t> counters;
};

// Everything an optimizer needs to continue exactly where it was (Optimizer::state()).
struct OptimizerState {
  std::string kind;                            // "SGD", "Adam", "AdamW"
  std::map<std::string, std::string> options;  // every hyperparameter as exact text ("lr" -> "0.001")
  int64_t steps = 0;                           // Optimizer::steps()
  std::vector<ParameterState> parameters;      // parallel to Optimizer::parameters()
};

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

  // ---- Checkpoints (serialization/checkpoint.h) ----
  // The optimizer's kind ("SGD", "Adam", "AdamW"): state() and load_state() refuse another kind's.
  virtual std::string kind() const = 0;
  // The state: kind, options, step count and each parameter's state. The tensors are handles on
  // the optimizer's own (not copies).
  OptimizerState state() const;
  // Replaces the whole state with `state` (never merges: a parameter whose state `state` lacks has
  // none afterwards). All or nothing: throws wisp::Error, changing nothing, when `state` is another
  // kind's, has other options (each differing option is named with both values), another number of
  // parameters, a negative count, a tensor that is not float32 of its parameter's shape, or state
  // this optimizer would not have (unknown names, moments without their step count, ...).
  void load_state(const OptimizerState& state);
  // The checking half of load_state(), for a caller that loads more than the optimizer all or
  // nothing (a checkpoint loads the model too): checks `state` as load_state() does, with
  // `parameter_shapes` the shapes the parameters will have when the change runs (a checkpoint may
  // give a SparseLinear other connections; empty: their current shapes), copies its tensors to the
  // parameters' devices and returns the change that installs them, which does not throw. `names`
  // name the parameters in messages (by default "parameter 3").
  std::function<void()> prepare_load_state(const OptimizerState& state, const std::vector<Shape>& parameter_shapes = {},
                                           const std::vector<std::string>& names = {});

 protected:
  // Checkpoint hooks of an optimizer kind: its options as exact text (format_option()), the state of parameter `index`,
  // a check of a parameter's state beyond dtype and shape (throws wisp::Error saying what is wrong), and the
  // installation of a checked state whose tensors are already private copies on the parameter's device (must not
  // throw).
  virtual std::map<std::string, std::string> options_text() const = 0;
  virtual ParameterState parameter_state(size_t index) const = 0;
  virtual void check_parameter_state(size_t index, const ParameterState& state) const = 0;
  virtual void set_parameter_state(size_t index, ParameterState state) = 0;
  // Exact text of an option: for doubles the shortest of 15 to 17 significant digits that reads
  // back as the same double ("0.1"); "true" or "false".
  static std::string format_option(double value);
  static std::string format_option(bool value);

 protected:
  // The optimizer's rule: updates every parameter that has a gradient. New optimizers override
  // this (and state_of); step() wraps it.
  virtual void update() = 0;
  // The options' learning rate and schedule, for learning_rate(); update() uses learning_rate().
  virtual double base_learning_rate() const = 0;
  virtual Schedule schedule() const = 0;

  // Position of `parameter` in parameters(); throws when it is not one of them.
  size_t index_of(const Tensor& parameter) const;

  // The bfloat16 copy the parameter's update hook asks update() to refresh in its pass (an undefined
  // tensor when none: core/update_hook.h), and the call update() makes after refreshing it. An
  // optimizer kind whose kernel cannot write it simply never asks; the owner then refreshes the copy.
  static Tensor bfloat16_copy_of(const Tensor& parameter);
  static void bfloat16_copy_refreshed(const Tensor& parameter);

  std::vector<Tensor> parameters_;
  int64_t steps_ = 0;
};

}  // namespace wisp::optim
