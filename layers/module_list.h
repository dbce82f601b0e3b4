// nn::ModuleList: modules held in a list, as PyTorch's torch.nn.ModuleList. It registers them (so
// parameters(), to(Device), train()/eval() and state_dict() see them, named "0.weight", "1.bias",
// ... as in PyTorch) but does not chain them: it has no forward, its owner calls them.
//
//   struct Tower : nn::Module {
//     std::shared_ptr<nn::ModuleList> blocks;
//     Tower() {
//       blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
//       for (int i = 0; i < 4; ++i) blocks->push_back(nn::Linear(64, 64));  // "blocks.0.weight", ...
//     }
//     Tensor forward(const Tensor& x) override {
//       Tensor y = x;
//       for (const std::shared_ptr<nn::Module>& block : *blocks) y = relu((*block)(y));
//       return y;
//     }
//   };
//
// Modules are added as values (moved into shared ownership) or as std::shared_ptr<Module>s (shared
// with the caller). The initialisation order rule of nn::Sequential (sequential.h) holds here too.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "wisp/layers/module.h"

namespace wisp::detail {
// A module value moved (or copied: a shallow copy) into shared ownership, or a shared module as it is.
template <class ModuleType>
std::shared_ptr<nn::Module> share_module(ModuleType&& module) {
  using Decayed = std::decay_t<ModuleType>;
  if constexpr (std::is_base_of_v<nn::Module, Decayed>) {
    return std::make_shared<Decayed>(std::forward<ModuleType>(module));
  } else {
    return std::shared_ptr<nn::Module>(std::forward<ModuleType>(module));
  }
}
}  // namespace wisp::detail

namespace wisp::nn {

class ModuleList : public Module {
 public:
  using const_iterator = std::vector<std::shared_ptr<Module>>::const_iterator;

  ModuleList() = default;
  // ModuleList{a, b, c}: with braces, C++ constructs a, b, c left to right (see sequential.h).
  template <class First, class... Rest,
            class = std::enable_if_t<!std::is_same_v<std::decay_t<First>, ModuleList> || sizeof...(Rest) != 0>>
  explicit ModuleList(First&& first, Rest&&... rest) {
    push_back(std::forward<First>(first));
    (push_back(std::forward<Rest>(rest)), ...);
  }

  // Appends a module value or a shared module, registered as child "<size()>"; returns this list.
  template <class ModuleType>
  ModuleList& push_back(ModuleType&& module) {
    add(detail::share_module(std::forward<ModuleType>(module)));
    return *this;
  }
  // PyTorch's name for push_back.
  template <class ModuleType>
  ModuleList& append(ModuleType&& module) {
    return push_back(std::forward<ModuleType>(module));
  }

  std::string name() const override { return "ModuleList"; }

  size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  // The i-th module (negative i counts from the end); throws when out of range.
  std::shared_ptr<Module> operator[](int64_t index) const;
  // The i-th module as its concrete type; throws naming both types when it is something else.
  template <class ModuleType>
  ModuleType& at(int64_t index) const {
    std::shared_ptr<Module> module = (*this)[index];
    auto* typed = dynamic_cast<ModuleType*>(module.get());
    if (typed == nullptr) wrong_type(index, *module, typeid(ModuleType).name());
    return *typed;
  }
  // The modules in order, as shared pointers.
  const_iterator begin() const { return modules_.begin(); }
  const_iterator end() const { return modules_.end(); }

 private:
  void add(std::shared_ptr<Module> module);
  [[noreturn]] void wrong_type(int64_t index, const Module& module, const char* requested) const;

  std::vector<std::shared_ptr<Module>> modules_;  // the children, in order
};

}  // namespace wisp::nn
