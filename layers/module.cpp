#include "wisp/layers/module.h"

#include <cxxabi.h>

#include <cstdlib>
#include <ostream>
#include <set>
#include <sstream>
#include <typeinfo>
#include <unordered_set>

namespace wisp::nn {

Tensor Module::forward(const Tensor&) { WISP_FAIL(name(), " does not implement forward(); call its children instead"); }

namespace {
// Keeps the first entry of each tensor: a module reached twice (tied weights, a layer used twice in
// a Sequential) lists its tensors once, under their first name, as PyTorch does.
std::vector<std::pair<std::string, Tensor>> without_repeats(std::vector<std::pair<std::string, Tensor>> entries) {
  std::unordered_set<const void*> seen;
  std::vector<std::pair<std::string, Tensor>> result;
  for (auto& entry : entries)
    if (seen.insert(entry.second.impl().get()).second) result.push_back(std::move(entry));
  return result;
}
}  // namespace

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> result = parameters_;
  if (recurse) {
    for (const auto& [child_name, child] : children_)
      for (auto& [name, tensor] : child->named_parameters(true)) result.emplace_back(child_name + "." + name, tensor);
  }
  return without_repeats(std::move(result));
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> result;
  for (auto& entry : named_parameters(recurse)) result.push_back(entry.second);
  return result;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> result = buffers_;
  if (recurse) {
    for (const auto& [child_name, child] : children_)
      for (auto& [name, tensor] : child->named_buffers(true)) result.emplace_back(child_name + "." + name, tensor);
  }
  return without_repeats(std::move(result));
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> result;
  for (auto& entry : named_buffers(recurse)) result.push_back(entry.second);
  return result;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> result;
  for (const auto& entry : children_) result.push_back(entry.second);
  return result;
}

namespace {
template <class ModulePointer>
void collect_modules(ModulePointer module, const std::string& name, std::unordered_set<const Module*>& seen,
                     std::vector<std::pair<std::string, ModulePointer>>& out) {
  if (!seen.insert(module).second) return;
  out.emplace_back(name, module);
  for (const auto& [child_name, child] : module->named_children())
    collect_modules<ModulePointer>(child.get(), name.empty() ? child_name : name + "." + child_name, seen, out);
}
}  // namespace

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> result;
  std::unordered_set<const Module*> seen;
  collect_modules<Module*>(this, "", seen, result);
  return result;
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> result;
  std::unordered_set<const Module*> seen;
  collect_modules<const Module*>(this, "", seen, result);
  return result;
}

Module& Module::apply(const std::function<void(Module&)>& fn) {
  for (const auto& entry : children_) entry.second->apply(fn);
  fn(*this);
  return *this;
}

int64_t Module::num_parameters() const {
  int64_t total = 0;
  for (const Tensor& p : parameters()) total += p.numel();
  return total;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& entry : children_) entry.second->train(on);
}

void move_tensor_to_(const Tensor& tensor, Device device) {
  if (!tensor.defined() || tensor.device() == device) return;
  TensorImpl& impl = *tensor.impl();
  const Tensor moved = copy_to_device(tensor, device);
  // A graph saved the old storage: counting the move there makes its backward refuse.
  impl.storage->bump_version();
  moved.impl()->storage->continue_versions_of(*impl.storage);
  impl.storage = moved.impl()->storage;
  impl.offset = 0;
  if (impl.grad) move_tensor_to_(Tensor(impl.grad), device);
}

void Module::to(Device device) {
  for (auto& entry : parameters_) move_tensor_to_(entry.second, device);
  for (auto& entry : buffers_) move_tensor_to_(entry.second, device);
  for (auto& entry : children_) entry.second->to(device);
}

void Module::zero_grad() {
  for (const Tensor& p : parameters()) p.set_grad(Tensor());
}

void replace_tensor_(const Tensor& tensor, const Tensor& source) noexcept {
  TensorImpl& impl = *tensor.impl();
  const TensorImpl& replacement = *source.impl();
  // A graph saved the old storage: counting the load there makes its backward refuse.
  impl.storage->bump_version();
  replacement.storage->continue_versions_of(*impl.storage);
  if (impl.shape != replacement.shape) impl.grad.reset();  // a gradient of the old shape means nothing
  impl.storage = replacement.storage;
  impl.offset = replacement.offset;
  impl.shape = replacement.shape;
  impl.dtype = replacement.dtype;
}

// ---- state dicts -------------------------------------------------------------------------------------

Tensor StateLoad::take(const std::string& name) {
  used_.push_back(name);
  const auto found = tensors_.find(name);
  if (found == tensors_.end()) {
    missing_.push_back(name);
    return Tensor();
  }
  if (read_) return read_(name);
  return found->second;
}

Tensor StateLoad::take(const std::string& name, DType dtype, const Shape& shape) {
  Tensor tensor = take(name);
  if (!tensor.defined()) return Tensor();
  if (tensor.shape() != shape) {
    fail(detail::concat("size mismatch for ", name, ": copying a param with shape ", tensor.shape(),
                        " from checkpoint, the shape in current model is ", shape));
    return Tensor();
  }
  if (tensor.dtype() != dtype) {
    fail(detail::concat("dtype mismatch for ", name, ": copying a param of dtype ", tensor.dtype(),
                        " from checkpoint, the dtype in current model is ", dtype));
    return Tensor();
  }
  return tensor;
}

std::optional<uint64_t> StateLoad::take_counter(const std::string& name) {
  used_counters_.push_back(name);
  const auto found = counters_ ? counters_->find(name) : std::map<std::string, uint64_t>::const_iterator();
  if (!counters_ || found == counters_->end()) {
    missing_counters_.push_back(name);
    return std::nullopt;
  }
  return found->second;
}

void StateLoad::check(const std::string& module_name) const {
  std::vector<std::string> unexpected, unexpected_counters;
  const std::set<std::string> used(used_.begin(), used_.end());
  for (const auto& entry : tensors_)
    if (used.count(entry.first) == 0) unexpected.push_back(entry.first);
  if (counters_) {
    const std::set<std::string> used_counters(used_counters_.begin(), used_counters_.end());
    for (const auto& entry : *counters_)
      if (used_counters.count(entry.first) == 0) unexpected_counters.push_back(entry.first);
  }
  if (!missing_.empty() || !unexpected.empty() || !problems_.empty() || !missing_counters_.empty() ||
      !unexpected_counters.empty()) {
    // PyTorch's load_state_dict wording, so that its users recognise each line.
    std::ostringstream message;
    message << "Error(s) in loading state_dict for " << module_name << ":";
    const auto list = [&](const char* label, const std::vector<std::string>& names) {
      if (names.empty()) return;
      message << "\n\t" << label << " key(s) in state_dict: ";
      for (size_t i = 0; i < names.size(); ++i) message << (i ? ", " : "") << '"' << names[i] << '"';
      message << ".";
    };
    list("Missing", missing_);
    list("Unexpected", unexpected);
    const auto list_counters = [&](const char* label, const std::vector<std::string>& names) {
      if (names.empty()) return;
      message << "\n\t" << label << " counter(s): ";
      for (size_t i = 0; i < names.size(); ++i) message << (i ? ", " : "") << '"' << names[i] << '"';
      message << ".";
    };
    list_counters("Missing", missing_counters_);
    list_counters("Unexpected", unexpected_counters);
    for (const std::string& problem : problems_) message << "\n\t" << problem << ".";
    throw Error(message.str());
  }
}

void StateLoad::apply() {
  for (const auto& change : changes_) change();
  changes_.clear();
}

namespace {

void collect_state(const Module& module, const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) {
  module.state_tensors(prefix, out);
  for (const auto& [child_name, child] : module.named_children()) collect_state(*child, prefix + child_name + ".", out);
}

void collect_counters(const Module& module, const std::string& prefix,
                      std::vector<std::pair<std::string, uint64_t>>& out) {
  module.state_counters(prefix, out);
  for (const auto& [child_name, child] : module.named_children())
    collect_counters(*child, prefix + child_name + ".", out);
}

void check_state_tree(Module& module, const std::string& prefix, StateLoad& load) {
  module.check_state(prefix, load);
  for (const auto& [child_name, child] : module.named_children())
    check_state_tree(*child, prefix + child_name + ".", load);
}

}  // namespace

void Module::state_tensors(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, tensor] : parameters_) out.emplace_back(prefix + name, tensor);
  for (const auto& [name, tensor] : buffers_) out.emplace_back(prefix + name, tensor);
}

void Module::check_state(const std::string& prefix, StateLoad& load) {
  std::vector<std::pair<std::string, Tensor>> own;
  state_tensors(prefix, own);
  for (const auto& entry : own) {
    // Not a structured binding: C++17 lambdas cannot capture those (clang refuses).
    const std::string& name = entry.first;
    const Tensor target = entry.second;
    const Tensor source = load.take(name, target.dtype(), target.shape());
    if (!source.defined()) continue;
    // A private copy on the target's device (the tensor itself when the load owns it): the target
    // takes over its storage when applied.
    Tensor copy = source.device() != target.device() ? copy_to_device(source, target.device())
                  : load.owns_tensors()              ? source.detach()
                                                     : source.detach().clone();
    load.on_apply([target, copy] { replace_tensor_(target, copy); });
  }
}

std::vector<std::pair<std::string, Tensor>> Module::state_dict() const {
  std::vector<std::pair<std::string, Tensor>> result;
  collect_state(*this, "", result);
  return result;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& tensors) {
  StateLoad load(tensors);
  check_state_tree(*this, "", load);
  load.finish(name());
}

void Module::check_state_dict(StateLoad& load) { check_state_tree(*this, "", load); }

void Module::state_counters(const std::string&, std::vector<std::pair<std::string, uint64_t>>&) const {}

std::vector<std::pair<std::string, uint64_t>> Module::counter_dict() const {
  std::vector<std::pair<std::string, uint64_t>> result;
  collect_counters(*this, "", result);
  return result;
}

std::string demangle(const char* mangled_name) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled_name, nullptr, nullptr, &status);
  std::string readable = status == 0 && demangled ? demangled : mangled_name;
  std::free(demangled);
  return readable;
}

std::string Module::name() const {
  // The class name without namespaces, enclosing classes or functions, or template arguments:
  // "Wrapper" for ns::Wrapper<nn::Linear>, "Block" for ns::Wrapper<int>::Block, "Local" for a
  // class defined in void f<int>(ns::X)::Local. Template arguments and parameter lists are dropped
  // first (they may hold "::" themselves), then the last "::" part is kept.
  const std::string full = demangle(typeid(*this).name());
  std::string outside;  // `full` without its <...> and (...) groups
  int depth = 0;
  for (const char c : full) {
    if (c == '<' || c == '(') ++depth;
    if (depth == 0) outside += c;
    if ((c == '>' || c == ')') && depth > 0) --depth;
  }
  const size_t colon = outside.rfind("::");
  return colon == std::string::npos ? outside : outside.substr(colon + 2);
}

void Module::pretty_print(std::ostream& stream, int indent) const {
  stream << name() << "(";
  if (children_.empty()) {
    stream << extra_repr() << ")";
    return;
  }
  const std::string padding(static_cast<size_t>(indent) + 2, ' ');
  const std::string extra = extra_repr();
  if (!extra.empty()) stream << "\n" << padding << extra;
  for (const auto& [child_name, child] : children_) {
    stream << "\n" << padding << "(" << child_name << "): ";
    child->pretty_print(stream, indent + 2);
  }
  stream << "\n" << std::string(static_cast<size_t>(indent), ' ') << ")";
}

std::ostream& operator<<(std::ostream& stream, const Module& module) {
  module.pretty_print(stream);
  return stream;
}

void Module::check_new_name(const std::string& name, const char* what) const {
  WISP_CHECK(!name.empty() && name.find('.') == std::string::npos, this->name(), ": ", what, " name \"", name,
             "\" must be non-empty and contain no '.'");
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  WISP_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), this->name(), ": the name \"", name,
             "\" is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad) {
  check_new_name(name, "parameter");
  WISP_CHECK(tensor.defined(), this->name(), ": parameter \"", name, "\" must be a defined tensor");
  if (requires_grad) tensor.set_requires_grad(true);
  parameters_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_new_name(name, "buffer");
  WISP_CHECK(tensor.defined(), this->name(), ": buffer \"", name, "\" must be a defined tensor");
  buffers_.emplace_back(name, tensor);
  return tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "module");
  WISP_CHECK(module != nullptr, this->name(), ": module \"", name, "\" must not be null");
  children_.emplace_back(name, std::move(module));
}

}  // namespace wisp::nn
