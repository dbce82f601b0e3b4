#include "wisp/optim/adam.h"

#include <cmath>
#include <ostream>
#include <set>

#include "wisp/autograd/grad_mode.h"
#include "wisp/core/factories.h"
#include "wisp/kernels/adam.h"

namespace wisp::optim {
namespace {

void check_adam_options(const char* name, double learning_rate, std::pair<double, double> betas, double eps,
                        double weight_decay) {
  WISP_CHECK(learning_rate >= 0, name, ": expected a learning rate >= 0 but got ", learning_rate);
  WISP_CHECK(betas.first >= 0 && betas.first < 1, name, ": expected 0 <= beta1 < 1 but got ", betas.first);
  WISP_CHECK(betas.second >= 0 && betas.second < 1, name, ": expected 0 <= beta2 < 1 but got ", betas.second);
  WISP_CHECK(eps >= 0, name, ": expected eps >= 0 but got ", eps);
  WISP_CHECK(weight_decay >= 0, name, ": expected weight_decay >= 0 but got ", weight_decay);
}

template <class Options>
std::ostream& print_options(std::ostream& stream, const char* name, const Options& options) {
  return stream << name << "(lr=" << options.learning_rate() << ", betas=(" << options.betas().first << ", "
                << options.betas().second << "), eps=" << options.eps() << ", weight_decay=" << options.weight_decay()
                << ", amsgrad=" << (options.amsgrad() ? "true" : "false") << ", schedule=" << options.schedule() << ")";
}

Tensor zeros_like_parameter(const Tensor& parameter) {
  return zeros(parameter.shape(), TensorOptions(DType::Float32).device(parameter.device()));
}

// The state of a parameter whose model moved to another device after earlier steps.
void follow_device(Tensor& state, const Tensor& parameter) {
  if (state.defined() && state.device() != parameter.device()) state = copy_to_device(state, parameter.device());
}

}  // namespace

void AdamOptions::check() const { check_adam_options("Adam", learning_rate_, betas(), eps_, weight_decay_); }
void AdamWOptions::check() const { check_adam_options("AdamW", learning_rate_, betas(), eps_, weight_decay_); }

AdamBase::AdamBase(std::vector<Tensor> parameters, Hyperparameters hyperparameters)
    : Optimizer(std::move(parameters)), hyperparameters_(std::move(hyperparameters)), states_(parameters_.size()) {}

void AdamBase::update() {
  NoGradGuard no_grad;
  const Hyperparameters& h = hyperparameters_;
  const double learning_rate = this->learning_rate();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& parameter = parameters_[i];
    const Tensor gradient = parameter.grad();
    if (!gradient.defined()) continue;
    Moments& state = states_[i];
    if (!state.exp_avg.defined()) {
      state.exp_avg = zeros_like_parameter(parameter);
      state.exp_avg_sq = zeros_like_parameter(parameter);
      if (h.amsgrad) state.max_exp_avg_sq = zeros_like_parameter(parameter);
    }
    follow_device(state.exp_avg, parameter);
    follow_device(state.exp_avg_sq, parameter);
    follow_device(state.max_exp_avg_sq, parameter);
    ++state.steps;
    // PyTorch's scalar arithmetic, in double (its Python floats).
    const double t = static_cast<double>(state.steps);
    kernels::AdamStepConstants constants;
    constants.beta1 = h.beta1;
    constants.beta2 = h.beta2;
    constants.l2_weight_decay = h.decoupled_weight_decay ? 0.0 : h.weight_decay;
    constants.decay_factor = h.decoupled_weight_decay ? 1 - learning_rate * h.weight_decay : 1.0;
    constants.step_size = learning_rate / (1 - std::pow(h.beta1, t));
    constants.bias_correction2_sqrt = std::sqrt(1 - std::pow(h.beta2, t));
    constants.eps = h.eps;
    const Tensor copy = bfloat16_copy_of(parameter);
    kernels::adam_step(parameter, gradient, state.exp_avg, state.exp_avg_sq, state.max_exp_avg_sq, constants, copy);
    if (copy.defined()) bfloat16_copy_refreshed(parameter);
  }
}

Tensor AdamBase::exp_avg(const Tensor& parameter) const { return states_[index_of(parameter)].exp_avg; }
Tensor AdamBase::exp_avg_sq(const Tensor& parameter) const { return states_[index_of(parameter)].exp_avg_sq; }
Tensor AdamBase::max_exp_avg_sq(const Tensor& parameter) const { return states_[index_of(parameter)].max_exp_avg_sq; }
int64_t AdamBase::step_count(const Tensor& parameter) const { return states_[index_of(parameter)].steps; }

std::vector<Tensor> AdamBase::state_of(const Tensor& parameter) const {
  const Moments& state = states_[index_of(parameter)];
  if (!state.exp_avg.defined()) return {};
  if (state.max_exp_avg_sq.defined()) return {state.exp_avg, state.exp_avg_sq, state.max_exp_avg_sq};
  return {state.exp_avg, state.exp_avg_sq};
}

std::map<std::string, std::string> AdamBase::options_text() const {
  const Hyperparameters& h = hyperparameters_;
  return {{"lr", format_option(h.learning_rate)},
          {"beta1", format_option(h.beta1)},
          {"beta2", format_option(h.beta2)},
          {"eps", format_option(h.eps)},
          {"weight_decay", format_option(h.weight_decay)},
          {"amsgrad", format_option(h.amsgrad)},
          {"schedule", h.schedule.description()}};
}

ParameterState AdamBase::parameter_state(size_t index) const {
  const Moments& own = states_[index];
  ParameterState state;
  state.counters["step"] = own.steps;
  if (own.exp_avg.defined()) state.tensors["exp_avg"] = own.exp_avg;
  if (own.exp_avg_sq.defined()) state.tensors["exp_avg_sq"] = own.exp_avg_sq;
  if (own.max_exp_avg_sq.defined()) state.tensors["max_exp_avg_sq"] = own.max_exp_avg_sq;
  return state;
}

void AdamBase::check_parameter_state(size_t, const ParameterState& state) const {
  const auto step = state.counters.find("step");
  WISP_CHECK(step != state.counters.end(), "expected the counter step but it is missing");
  WISP_CHECK(state.counters.size() == 1, "expected no counter but step, got ", state.counters.size(), " counters");
  // Moments exist exactly from the first step on, and v_max exactly with amsgrad.
  std::set<std::string> expected;
  if (step->second > 0) expected = {"exp_avg", "exp_avg_sq"};
  if (step->second > 0 && hyperparameters_.amsgrad) expected.insert("max_exp_avg_sq");
  std::string present;
  for (const auto& entry : state.tensors) present += (present.empty() ? "" : ", ") + entry.first;
  std::string wanted;
  for (const std::string& name : expected) wanted += (wanted.empty() ? "" : ", ") + name;
  bool same = expected.size() == state.tensors.size();
  for (const std::string& name : expected) same = same && state.tensors.count(name) != 0;
  WISP_CHECK(same, "at step ", step->second, (hyperparameters_.amsgrad ? " with" : " without"),
             " amsgrad, expected the state tensors {", wanted, "} but got {", present, "}");
}

void AdamBase::set_parameter_state(size_t index, ParameterState state) {
  Moments& own = states_[index];
  const auto tensor = [&](const char* name) {
    const auto found = state.tensors.find(name);
    return found == state.tensors.end() ? Tensor() : found->second;
  };
  own.exp_avg = tensor("exp_avg");
  own.exp_avg_sq = tensor("exp_avg_sq");
  own.max_exp_avg_sq = tensor("max_exp_avg_sq");
  own.steps = state.counters["step"];
}

Adam::Adam(std::vector<Tensor> parameters, AdamOptions options)
    : AdamBase(std::move(parameters), checked_hyperparameters(options, /*decoupled_weight_decay=*/false)),
      options_(options) {}

AdamW::AdamW(std::vector<Tensor> parameters, AdamWOptions options)
    : AdamBase(std::move(parameters), checked_hyperparameters(options, /*decoupled_weight_decay=*/true)),
      options_(options) {}

std::ostream& operator<<(std::ostream& stream, const AdamOptions& options) {
  return print_options(stream, "Adam", options);
}
std::ostream& operator<<(std::ostream& stream, const AdamWOptions& options) {
  return print_options(stream, "AdamW", options);
}

}  // namespace wisp::optim
