// optim::Adam and optim::AdamW with PyTorch 1.13's exact semantics (torch.optim.Adam, AdamW).
#pragma once

#include <iosfwd>
#include <utility>

#include "wisp/core/arguments.h"
#include "wisp/optim/optimizer.h"
#include "wisp/optim/schedule.h"

namespace wisp::optim {

struct AdamOptions {
  explicit AdamOptions(double learning_rate) : learning_rate_(learning_rate) {}
  // PyTorch's name for learning_rate, hand-written because it sets the same member.
  AdamOptions& lr(double value) { return learning_rate(value); }
  double lr() const { return learning_rate_; }
  // The decay rates of the first and second moments; hand-written as it takes two values.
  AdamOptions& betas(double beta1, double beta2) {
    beta1_ = beta1;
    beta2_ = beta2;
    return *this;
  }
  std::pair<double, double> betas() const { return {beta1_, beta2_}; }
  // Throws wisp::Error, naming the value, for options Adam refuses: lr < 0, a beta outside [0, 1),
  // eps < 0, weight_decay < 0. Adam checks them itself.
  void check() const;

  WISP_ARG(double, learning_rate, 0.0);  // always set by the constructor
  WISP_ARG(double, eps, 1e-8);
  WISP_ARG(double, weight_decay, 0.0);  // L2: added to the gradient
  WISP_ARG(bool, amsgrad, false);
  WISP_ARG(Schedule, schedule, constant());  // multiplies learning_rate (optim/schedule.h)

 private:
  double beta1_ = 0.9, beta2_ = 0.999;
};

// As AdamOptions, but weight_decay is decoupled and defaults to 1e-2 (torch.optim.AdamW's).
struct AdamWOptions {
  explicit AdamWOptions(double learning_rate) : learning_rate_(learning_rate) {}
  AdamWOptions& lr(double value) { return learning_rate(value); }
  double lr() const { return learning_rate_; }
  AdamWOptions& betas(double beta1, double beta2) {
    beta1_ = beta1;
    beta2_ = beta2;
    return *this;
  }
  std::pair<double, double> betas() const { return {beta1_, beta2_}; }
  // As AdamOptions::check, naming AdamW.
  void check() const;

  WISP_ARG(double, learning_rate, 0.0);  // always set by the constructor
  WISP_ARG(double, eps, 1e-8);
  WISP_ARG(double, weight_decay, 1e-2);  // decoupled: param *= 1 − lr · weight_decay
  WISP_ARG(bool, amsgrad, false);
  WISP_ARG(Schedule, schedule, constant());

 private:
  double beta1_ = 0.9, beta2_ = 0.999;
};

// What Adam and AdamW share: the per-parameter state and the step. For each parameter p with
// gradient g, at the parameter's own step count t (its steps with a gradient, 1 on its first) and
// lr = learning_rate() (the base rate times the schedule at steps()); see kernels/adam.h for the
// fused update:
//   AdamW: p *= 1 − lr · weight_decay           Adam: g = g + weight_decay · p
//   m = beta1 · m + (1 − beta1) · g             v = beta2 · v + (1 − beta2) · g²
//   amsgrad: v_max = max(v_max, v), used for v below
//   p −= lr / (1 − beta1^t) · m / (sqrt(v) / sqrt(1 − beta2^t) + eps)
// The state of a parameter is created (zero moments) at its first step with a gradient; a parameter
// without a gradient is skipped and its step count stays, as PyTorch's per-parameter "step".
// state_of() is {m, v} or {m, v, v_max} with amsgrad: a RigL layer permutes them with the weights
// and its new connections start at zero moments (the parameter's step count is kept).
class AdamBase : public Optimizer {
 public:
  // The moments of `parameter`: undefined before its first step with a gradient (and v_max
  // without amsgrad).
  Tensor exp_avg(const Tensor& parameter) const;
  Tensor exp_avg_sq(const Tensor& parameter) const;
  Tensor max_exp_avg_sq(const Tensor& parameter) const;
  // The number of steps that updated `parameter` (had a gradient for it).
  int64_t step_count(const Tensor& parameter) const;
  std::vector<Tensor> state_of(const Tensor& parameter) const override;

 protected:
  struct Hyperparameters {
    double learning_rate, beta1, beta2, eps, weight_decay;
    bool amsgrad, decoupled_weight_decay;
    Schedule schedule;
  };
  AdamBase(std::vector<Tensor> parameters, Hyperparameters hyperparameters);
  // The hyperparameters of AdamOptions or AdamWOptions, after their check().
  template <class Options>
  static Hyperparameters checked_hyperparameters(const Options& options, bool decoupled_weight_decay) {
    options.check();
    return {options.learning_rate(), options.betas().first, options.betas().second, options.eps(),
            options.weight_decay(),  options.amsgrad(),     decoupled_weight_decay, options.schedule()};
  }
  void update() override;
  double base_learning_rate() const override { return hyperparameters_.learning_rate; }
  Schedule schedule() const override { return hyperparameters_.schedule; }
  // Checkpoints: options lr, beta1, beta2, eps, weight_decay, amsgrad and schedule (its
  // description); per parameter the counter "step" and, once it is above 0, "exp_avg" and
  // "exp_avg_sq" (and "max_exp_avg_sq" with amsgrad), as PyTorch names them.
  std::map<std::string, std::string> options_text() const override;
  ParameterState parameter_state(size_t index) const override;
  void check_parameter_state(size_t index, const ParameterState& state) const override;
  void set_parameter_state(size_t index, ParameterState state) override;

 private:
  struct Moments {
    Tensor exp_avg, exp_avg_sq, max_exp_avg_sq;
    int64_t steps = 0;
  };
  Hyperparameters hyperparameters_;
  std::vector<Moments> states_;  // parallel to parameters()
};

// Adam (Kingma & Ba, 2015) with L2 weight decay, as torch.optim.Adam.
class Adam : public AdamBase {
 public:
  Adam(std::vector<Tensor> parameters, AdamOptions options);
  const AdamOptions& options() const { return options_; }
  std::string kind() const override { return "Adam"; }

 private:
  AdamOptions options_;
};

// AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, as torch.optim.AdamW.
class AdamW : public AdamBase {
 public:
  AdamW(std::vector<Tensor> parameters, AdamWOptions options);
  const AdamWOptions& options() const { return options_; }
  std::string kind() const override { return "AdamW"; }

 private:
  AdamWOptions options_;
};

std::ostream& operator<<(std::ostream& stream, const AdamOptions& options);
std::ostream& operator<<(std::ostream& stream, const AdamWOptions& options);

}  // namespace wisp::optim
