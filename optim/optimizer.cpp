#include "wisp/optim/optimizer.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>

namespace wisp::optim {

Optimizer::Optimizer(std::vector<Tensor> parameters) : parameters_(std::move(parameters)) {
  WISP_CHECK(!parameters_.empty(), "optimizer: expected at least one parameter but got an empty list");
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& p = parameters_[i];
    WISP_CHECK(p.defined(), "optimizer: parameter ", i, " is undefined");
    WISP_CHECK(p.dtype() == DType::Float32, "optimizer: expected float32 parameters but parameter ", i, " is ",
               p.dtype());
    // A parameter that does not require grad (a frozen one) is accepted and never gets a gradient,
    // so step() skips it, as in PyTorch.
    WISP_CHECK(p.is_leaf(), "optimizer: parameter ", i, " must be a leaf tensor (it is the output of ",
               p.grad_fn_name(), "; pass the tensor the module registered, or a detach()ed copy)");
    for (size_t j = 0; j < i; ++j)
      WISP_CHECK(parameters_[j].impl() != p.impl(), "optimizer: parameter ", i, " appears twice (also at ", j, ")");
  }
}

void Optimizer::step() {
  std::vector<size_t> updated;  // parameters with a gradient: those update() changes
  for (size_t i = 0; i < parameters_.size(); ++i)
    if (parameters_[i].grad().defined()) updated.push_back(i);
  update();
  ++steps_;
  for (size_t i : updated) {
    const Tensor& parameter = parameters_[i];
    if (const std::shared_ptr<TensorUpdateHook> hook = parameter.update_hook())
      hook->after_update(parameter, state_of(parameter));
  }
}

Tensor Optimizer::bfloat16_copy_of(const Tensor& parameter) {
  const std::shared_ptr<TensorUpdateHook> hook = parameter.update_hook();
  const Tensor* copy = hook ? hook->bfloat16_copy() : nullptr;
  return copy ? *copy : Tensor();
}

void Optimizer::bfloat16_copy_refreshed(const Tensor& parameter) {
  if (const std::shared_ptr<TensorUpdateHook> hook = parameter.update_hook()) hook->bfloat16_copy_refreshed(parameter);
}

void Optimizer::zero_grad() {
  for (const Tensor& p : parameters_) p.set_grad(Tensor());
}

// ---- checkpoints ---------------------------------------------------------------------------------

std::string Optimizer::format_option(double value) {
  // The shortest of 15, 16 or 17 significant digits that reads back as `value` ("0.1", not
  // "0.10000000000000001"): 17 always does.
  char text[40];
  for (int digits = 15; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, value);
    if (std::strtod(text, nullptr) == value) break;
  }
  return text;
}

std::string Optimizer::format_option(bool value) { return value ? "true" : "false"; }

OptimizerState Optimizer::state() const {
  OptimizerState state;
  state.kind = kind();
  state.options = options_text();
  state.steps = steps_;
  for (size_t i = 0; i < parameters_.size(); ++i) state.parameters.push_back(parameter_state(i));
  return state;
}

void Optimizer::load_state(const OptimizerState& state) { prepare_load_state(state)(); }

std::function<void()> Optimizer::prepare_load_state(const OptimizerState& state,
                                                    const std::vector<Shape>& parameter_shapes,
                                                    const std::vector<std::string>& names) {
  const std::string own_kind = kind();
  WISP_CHECK(state.kind == own_kind, "expected the state of an ", own_kind, " optimizer but got the state of an ",
             state.kind, " optimizer");
  const std::map<std::string, std::string> own_options = options_text();
  std::string differences;
  std::set<std::string> keys;
  for (const auto& entry : own_options) keys.insert(entry.first);
  for (const auto& entry : state.options) keys.insert(entry.first);
  for (const std::string& key : keys) {
    const auto saved = state.options.find(key);
    const auto own = own_options.find(key);
    const std::string saved_text = saved == state.options.end() ? "(none)" : saved->second;
    const std::string own_text = own == own_options.end() ? "(none)" : own->second;
    if (saved_text != own_text)
      differences += detail::concat(differences.empty() ? "" : "; ", key, " is ", saved_text, " in the state but ",
                                    own_text, " in this optimizer");
  }
  WISP_CHECK(differences.empty(), own_kind, ": expected the state of an optimizer with the same options but ",
             differences);
  WISP_CHECK(state.steps >= 0, own_kind, ": expected a step count >= 0 but got ", state.steps);
  WISP_CHECK(state.parameters.size() == parameters_.size(), own_kind, ": expected the state of ", parameters_.size(),
             " parameters but got the state of ", state.parameters.size());
  WISP_CHECK(parameter_shapes.empty() || parameter_shapes.size() == parameters_.size(), own_kind, ": expected ",
             parameters_.size(), " parameter shapes but got ", parameter_shapes.size());

  std::vector<ParameterState> copies(parameters_.size());
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const std::string label = i < names.size() ? names[i] : detail::concat("parameter ", i);
    const Tensor& parameter = parameters_[i];
    const Shape& shape = parameter_shapes.empty() ? parameter.shape() : parameter_shapes[i];
    const ParameterState& saved = state.parameters[i];
    for (const auto& [name, tensor] : saved.tensors) {
      WISP_CHECK(tensor.defined(), own_kind, ": the state ", name, " of ", label, " is an undefined tensor");
      WISP_CHECK(tensor.dtype() == DType::Float32, own_kind, ": expected the state ", name, " of ", label,
                 " to be float32 but got ", tensor.dtype());
      WISP_CHECK(tensor.shape() == shape, own_kind, ": size mismatch for the state ", name, " of ", label,
                 ": copying a state of shape ", tensor.shape(), " from checkpoint, the shape of the parameter is ",
                 shape);
    }
    for (const auto& [name, count] : saved.counters)
      WISP_CHECK(count >= 0, own_kind, ": expected the count ", name, " of ", label, " to be >= 0 but got ", count);
    try {
      check_parameter_state(i, saved);
    } catch (const Error& error) {
      WISP_FAIL(own_kind, ": the state of ", label, ": ", error.what());
    }
    copies[i].counters = saved.counters;
    // Private copies on the parameter's device: the optimizer updates them in place afterwards.
    for (const auto& [name, tensor] : saved.tensors)
      copies[i].tensors[name] =
          tensor.device() == parameter.device() ? tensor.detach().clone() : copy_to_device(tensor, parameter.device());
  }
  const int64_t steps = state.steps;
  return [this, steps, copies]() mutable {
    steps_ = steps;
    for (size_t i = 0; i < copies.size(); ++i) set_parameter_state(i, std::move(copies[i]));
  };
}

size_t Optimizer::index_of(const Tensor& parameter) const {
  for (size_t i = 0; i < parameters_.size(); ++i)
    if (parameters_[i].impl() == parameter.impl()) return i;
  WISP_FAIL("optimizer: the tensor of shape ", parameter.shape(), " is not one of this optimizer's parameters");
}

}  // namespace wisp::optim
