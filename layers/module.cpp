#include "wisp/layers/module.h"

#include <cxxabi.h>

#include <cstdlib>
#include <ostream>
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
