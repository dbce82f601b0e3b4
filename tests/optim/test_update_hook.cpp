// Optimizer::step() and the tensors' update hooks (core/update_hook.h): when a hook is called,
// with what, and that the tensor holds it weakly.
#include <memory>
#include <vector>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::values;

namespace {

// Records each call: the tensor's values then and the state tensors passed.
class RecordingHook : public TensorUpdateHook {
 public:
  void after_update(const Tensor& tensor, const std::vector<Tensor>& per_element_state) override {
    updated.push_back(tensor);
    values_seen.push_back(values(tensor));
    states.push_back(per_element_state);
  }
  std::vector<Tensor> updated;
  std::vector<std::vector<float>> values_seen;
  std::vector<std::vector<Tensor>> states;
};

}  // namespace

TEST_CASE("Optimizer::step calls the update hook of each updated parameter", "[optim][update_hook]") {
  Tensor first = ones({2}), second = ones({3});
  first.set_requires_grad(true);
  second.set_requires_grad(true);
  const auto hook = std::make_shared<RecordingHook>();
  first.set_update_hook(hook);
  CHECK(first.update_hook() == hook);
  CHECK(second.update_hook() == nullptr);
  const Tensor copy = first;  // a handle to the same tensor
  CHECK(copy.update_hook() == hook);

  optim::SGD optimizer({first, second}, optim::SGDOptions(0.5).momentum(0.9));
  // A parameter without a gradient is not updated, so its hook is not called.
  second.set_grad(ones({3}));
  optimizer.step();
  CHECK(hook->updated.empty());

  // Called after the update (the new values), with the optimizer's per-element state.
  first.set_grad(full({2}, 2.0));
  optimizer.step();
  REQUIRE(hook->updated.size() == 1);
  CHECK(hook->updated[0].impl() == first.impl());
  CHECK(hook->values_seen[0] == std::vector<float>{0.0f, 0.0f});  // 1 - 0.5 · 2
  REQUIRE(hook->states[0].size() == 1);
  CHECK(hook->states[0][0].impl() == optimizer.momentum_buffer(first).impl());

  // The tensor holds the hook weakly: once its owner drops it, it is gone and never called.
  const std::weak_ptr<RecordingHook> watched = hook;
  first.set_update_hook(nullptr);
  CHECK(first.update_hook() == nullptr);
  first.set_update_hook(std::make_shared<RecordingHook>());  // destroyed at the end of the statement
  CHECK(first.update_hook() == nullptr);
  optimizer.step();
  CHECK(hook->updated.size() == 1);
  CHECK_FALSE(watched.expired());

  WISP_REQUIRE_ERROR(Tensor().set_update_hook(hook), "undefined");
}
