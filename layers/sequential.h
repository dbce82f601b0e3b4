// nn::Sequential: modules applied one after the other.
//
//   nn::Sequential model{nn::Flatten(), nn::Linear(784, 2000), nn::ReLU(), nn::Linear(2000, 10)};
//   Tensor logits = model(images);
//   std::shared_ptr<nn::Module> last = model[3];
//   nn::Linear& first = model.at<nn::Linear>(1);
//
// Built from module values (moved into shared ownership) or from std::shared_ptr<Module>s (shared
// with the caller). Children are named "0", "1", ... as in PyTorch.
//
// Initialisation order — braces, not parentheses, for reproducible models. Each layer draws its
// initial values from the default generator when it is constructed, so the order in which layers
// are constructed decides which numbers each gets. In `nn::Sequential model(a(), b(), c())` (or
// std::make_shared<nn::Sequential>(a(), b(), c())) the layers are function arguments, whose order
// of evaluation C++ leaves unspecified: g++ constructs them right to left, clang left to right, so
// one seed gives two different models. C++ does fix the order in a braced list: write
//
//   nn::Sequential model{nn::Linear(784, 2000), nn::ReLU(), nn::Linear(2000, 10)};           // left to right
//   auto shared = std::make_shared<nn::Sequential>(nn::Sequential{nn::Linear(784, 2000), nn::ReLU()});
//
// or construct the layers in separate statements (model.push_back(nn::Linear(784, 2000));
// model.push_back(nn::Linear(2000, 10)); — or chained: model.push_back(...).push_back(...), which
// C++17 evaluates in order). docs/layers.md says the same.
//
// Errors: an exception thrown by a child's forward is rethrown as a wisp::Error that names the
// child, "in layer 3 (LayerNorm): " followed by the original message; nested Sequentials add one
// such prefix each ("in layer 1 (Sequential): in layer 0 (Linear): ...").
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

#include "wisp/layers/module.h"
#include "wisp/layers/module_list.h"

namespace wisp::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  template <class First, class... Rest,
            class = std::enable_if_t<!std::is_same_v<std::decay_t<First>, Sequential> || sizeof...(Rest) != 0>>
  explicit Sequential(First&& first, Rest&&... rest) {
    push_back(std::forward<First>(first));
    (push_back(std::forward<Rest>(rest)), ...);
  }

  // Appends a module value (moved into shared ownership) or a shared module; returns this Sequential.
  template <class ModuleType>
  Sequential& push_back(ModuleType&& module) {
    append(detail::share_module(std::forward<ModuleType>(module)));
    return *this;
  }

  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "Sequential"; }

  size_t size() const { return named_children().size(); }
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

 private:
  void append(std::shared_ptr<Module> module);
  [[noreturn]] void wrong_type(int64_t index, const Module& module, const char* requested) const;
};

}  // namespace wisp::nn
