#include "wisp/optim/sgd.h"

#include <ostream>

#include "wisp/autograd/grad_mode.h"
#include "wisp/core/factories.h"
#include "wisp/kernels/sgd.h"

namespace wisp::optim {

void SGDOptions::check() const {
  WISP_CHECK(learning_rate_ >= 0, "SGD: expected a learning rate >= 0 but got ", learning_rate_);
  WISP_CHECK(momentum_ >= 0, "SGD: expected momentum >= 0 but got ", momentum_);
  WISP_CHECK(weight_decay_ >= 0, "SGD: expected weight_decay >= 0 but got ", weight_decay_);
  WISP_CHECK(!nesterov_ || (momentum_ > 0 && dampening_ == 0),
             "SGD: Nesterov momentum requires momentum > 0 and dampening = 0 but got momentum ", momentum_,
             " and dampening ", dampening_);
}

SGD::SGD(std::vector<Tensor> parameters, SGDOptions options)
    : Optimizer(std::move(parameters)), options_(options), momentum_buffers_(parameters_.size()) {
  options_.check();
}

void SGD::set_learning_rate(double learning_rate) {
  SGDOptions changed = options_;
  changed.learning_rate(learning_rate);
  changed.check();
  options_ = changed;
}

void SGD::update() {
  NoGradGuard no_grad;
  kernels::SgdHyperparameters hyperparameters;
  hyperparameters.learning_rate = learning_rate();
  hyperparameters.momentum = options_.momentum();
  hyperparameters.dampening = options_.dampening();
  hyperparameters.weight_decay = options_.weight_decay();
  hyperparameters.nesterov = options_.nesterov();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& parameter = parameters_[i];
    const Tensor gradient = parameter.grad();
    if (!gradient.defined()) continue;
    Tensor& buffer = momentum_buffers_[i];
    bool first_step = false;
    if (options_.momentum() != 0) {
      if (!buffer.defined()) {
        buffer = empty(parameter.shape(), TensorOptions(DType::Float32).device(parameter.device()));
        first_step = true;
      } else if (buffer.device() != parameter.device()) {
        buffer = copy_to_device(buffer, parameter.device());  // the model moved after earlier steps
      }
    }
    const Tensor copy = bfloat16_copy_of(parameter);
    kernels::sgd_step(parameter, gradient, buffer, hyperparameters, first_step, copy);
    if (copy.defined()) bfloat16_copy_refreshed(parameter);
  }
}

Tensor SGD::momentum_buffer(const Tensor& parameter) const { return momentum_buffers_[index_of(parameter)]; }

std::vector<Tensor> SGD::state_of(const Tensor& parameter) const {
  const Tensor& buffer = momentum_buffers_[index_of(parameter)];
  if (!buffer.defined()) return {};
  return {buffer};
}

std::map<std::string, std::string> SGD::options_text() const {
  return {{"lr", format_option(options_.learning_rate())},    {"momentum", format_option(options_.momentum())},
          {"dampening", format_option(options_.dampening())}, {"weight_decay", format_option(options_.weight_decay())},
          {"nesterov", format_option(options_.nesterov())},   {"schedule", options_.schedule().description()}};
}

ParameterState SGD::parameter_state(size_t index) const {
  ParameterState state;
  if (momentum_buffers_[index].defined()) state.tensors["momentum_buffer"] = momentum_buffers_[index];
  return state;
}

void SGD::check_parameter_state(size_t, const ParameterState& state) const {
  for (const auto& entry : state.tensors) {
    WISP_CHECK(entry.first == "momentum_buffer", "expected no state other than momentum_buffer but got ", entry.first);
    WISP_CHECK(options_.momentum() != 0, "expected no momentum_buffer (momentum is 0) but got one");
  }
  WISP_CHECK(state.counters.empty(), "expected no counters but got ", state.counters.begin()->first);
}

void SGD::set_parameter_state(size_t index, ParameterState state) {
  const auto buffer = state.tensors.find("momentum_buffer");
  momentum_buffers_[index] = buffer == state.tensors.end() ? Tensor() : buffer->second;
}

std::ostream& operator<<(std::ostream& stream, const SGDOptions& options) {
  return stream << "SGD(lr=" << options.learning_rate() << ", momentum=" << options.momentum()
                << ", dampening=" << options.dampening() << ", weight_decay=" << options.weight_decay()
                << ", nesterov=" << (options.nesterov() ? "true" : "false") << ", schedule=" << options.schedule()
                << ")";
}

}  // namespace wisp::optim
