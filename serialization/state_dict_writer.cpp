#include "wisp/serialization/state_dict_writer.h"

#include <memory>
#include <utility>
#include <vector>

namespace wisp::serialization {
namespace {

// One module's own state tensors (Module::state_tensors) for a write: computed when the first of
// them is written, each released once written, computed again only when a released one is asked
// for (a second write).
class ModuleState {
 public:
  ModuleState(const nn::Module& module, std::string prefix) : module_(module), prefix_(std::move(prefix)) {}

  Tensor take(const std::string& name) {
    Tensor* found = find(name);
    if (found == nullptr || !found->defined()) {
      tensors_.clear();
      module_.state_tensors(prefix_, tensors_);
      found = find(name);
      WISP_CHECK(found != nullptr, "the module's state tensor ", name, " no longer exists");
    }
    Tensor tensor = std::move(*found);
    *found = Tensor();
    return tensor.detach();
  }

 private:
  Tensor* find(const std::string& name) {
    for (auto& [own_name, tensor] : tensors_)
      if (own_name == name) return &tensor;
    return nullptr;
  }

  const nn::Module& module_;
  std::string prefix_;
  std::vector<std::pair<std::string, Tensor>> tensors_;
};

// Module::state_dict()'s walk: the module's own tensors, then each child's under "child.".
void add_module(SafetensorsWriter& writer, const nn::Module& module, const std::string& prefix,
                const std::function<void(const std::string&)>& check_name) {
  auto state = std::make_shared<ModuleState>(module, prefix);
  std::vector<std::pair<std::string, Tensor>> own;
  module.state_tensors(prefix, own);
  for (const auto& entry : own) {
    const std::string& name = entry.first;
    if (check_name) check_name(name);
    writer.add(name, entry.second.dtype(), entry.second.shape(), [state, name] { return state->take(name); });
  }
  own.clear();  // computed tensors are computed again, one module at a time, when written
  for (const auto& [child_name, child] : module.named_children())
    add_module(writer, *child, prefix + child_name + ".", check_name);
}

}  // namespace

void add_state_dict(SafetensorsWriter& writer, const nn::Module& module,
                    const std::function<void(const std::string&)>& check_name) {
  add_module(writer, module, "", check_name);
}

}  // namespace wisp::serialization
