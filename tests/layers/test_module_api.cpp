// nn::ModuleList, Module::named_modules and apply, Sequential's error context and its
// initialisation order.
#include <string>
#include <vector>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::printed;

namespace {
// A custom module holding a ModuleList, as PyTorch models hold theirs.
struct Tower : nn::Module {
  std::shared_ptr<nn::ModuleList> blocks;
  std::shared_ptr<nn::Linear> head;
  Tower() {
    blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
    blocks->push_back(nn::Linear(4, 4)).append(nn::Linear(4, 4, nn::LinearOptions().bias(false)));
    head = register_module("head", std::make_shared<nn::Linear>(4, 2));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = x;
    for (const std::shared_ptr<nn::Module>& block : *blocks) y = relu((*block)(y));
    return (*head)(y);
  }
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& entries) {
  std::vector<std::string> names;
  for (const auto& entry : entries) names.push_back(entry.first);
  return names;
}
}  // namespace

TEST_CASE("ModuleList registers its modules by index, as PyTorch", "[layers][modules]") {
  manual_seed(3);
  nn::ModuleList list;
  CHECK(list.empty());
  auto shared = std::make_shared<nn::Linear>(3, 2);
  list.push_back(nn::Linear(2, 3)).push_back(nn::ReLU()).append(shared);
  REQUIRE(list.size() == 3);
  CHECK_FALSE(list.empty());
  CHECK(list[2] == shared);
  CHECK(list[-1] == shared);
  CHECK(list.at<nn::Linear>(0).weight().shape() == Shape{3, 2});
  CHECK(names_of(list.state_dict()) == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(list.num_parameters() == 3 * 2 + 3 + 2 * 3 + 2);
  std::vector<std::string> iterated;
  for (const std::shared_ptr<nn::Module>& module : list) iterated.push_back(module->name());
  CHECK(iterated == std::vector<std::string>{"Linear", "ReLU", "Linear"});
  CHECK(printed(list) ==
        "ModuleList(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=true)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=3, out_features=2, bias=true)\n"
        ")");
  WISP_REQUIRE_ERROR(list[3], "ModuleList: index 3 out of range for 3 modules");
  WISP_REQUIRE_ERROR(list.at<nn::Linear>(1), "ModuleList::at<wisp::nn::Linear>(1)", "is a ReLU");
  WISP_REQUIRE_ERROR(list(ones({1, 2})), "ModuleList does not implement forward()");
  WISP_REQUIRE_ERROR(list.push_back(std::shared_ptr<nn::Module>()), "must not be null");
  CHECK(list.size() == 3);  // the refused module was not added
  // Built from values in one expression, and moved or copied whole.
  nn::ModuleList built{nn::ReLU(), nn::Flatten()};
  CHECK(built.size() == 2);
  nn::ModuleList copy = built;
  CHECK(copy[0] == built[0]);
}

TEST_CASE("a ModuleList inside a model: names, parameters, device moves and train/eval reach it", "[layers][modules]") {
  manual_seed(4);
  Tower tower;
  CHECK(names_of(tower.state_dict()) ==
        std::vector<std::string>{"blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "head.weight", "head.bias"});
  CHECK(tower(ones({5, 4})).shape() == Shape{5, 2});
  tower.eval();
  CHECK_FALSE(tower.blocks->at<nn::Linear>(1).is_training());
  tower.to(Device::cpu());
  CHECK(tower.parameters().size() == 5);
}

TEST_CASE("named_modules lists self first, then depth first with dotted names", "[layers][modules]") {
  Tower tower;
  std::vector<std::string> names, types;
  for (const auto& [name, module] : tower.named_modules()) {
    names.push_back(name);
    types.push_back(module->name());
  }
  CHECK(names == std::vector<std::string>{"", "blocks", "blocks.0", "blocks.1", "head"});
  CHECK(types == std::vector<std::string>{"Tower", "ModuleList", "Linear", "Linear", "Linear"});
  CHECK(tower.named_modules()[0].second == &tower);
  CHECK(tower.named_modules()[4].second == tower.head.get());

  // Nested Sequentials; a module reached twice is listed once, under its first name (PyTorch).
  auto tied = std::make_shared<nn::Linear>(3, 3);
  const nn::Sequential model{nn::Flatten(), nn::Sequential{tied, nn::ReLU()}, tied};
  names.clear();
  for (const auto& [name, module] : model.named_modules()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"", "0", "1", "1.0", "1.1"});
  CHECK(model.named_modules()[3].second == tied.get());
  CHECK(nn::ReLU().named_modules().size() == 1);
}

TEST_CASE("apply calls the function on the children first, then on the module", "[layers][modules]") {
  Tower tower;
  std::vector<std::string> visited;
  Tower& returned = static_cast<Tower&>(tower.apply([&](nn::Module& module) {
    visited.push_back(module.name());
    if (auto* linear = dynamic_cast<nn::Linear*>(&module)) {
      NoGradGuard no_grad;
      linear->weight().fill_(0.5f);
    }
  }));
  CHECK(&returned == &tower);
  // PyTorch's order: blocks.0, blocks.1, blocks, head, then the Tower itself.
  CHECK(visited == std::vector<std::string>{"Linear", "Linear", "ModuleList", "Linear", "Tower"});
  for (const auto& [name, tensor] : tower.named_parameters())
    if (name.find("weight") != std::string::npos)
      for (float value : wisp::testing::values(tensor)) CHECK(value == 0.5f);
}

TEST_CASE("an error in a Sequential's layer names the layer and keeps the message", "[layers][modules]") {
  nn::Sequential model{nn::Flatten(), nn::Linear(12, 8), nn::ReLU(), nn::LayerNorm(7)};
  const Tensor input = ones({2, 12});
  std::string original;
  try {
    nn::LayerNorm(7)(ones({2, 8}));
  } catch (const Error& error) {
    original = error.what();
  }
  REQUIRE_FALSE(original.empty());
  try {
    model(input);
    FAIL("expected a wisp::Error");
  } catch (const Error& error) {
    CHECK(std::string(error.what()) == "in layer 3 (LayerNorm): " + original);
  }
  // Nested Sequentials: one prefix per level, outermost first.
  nn::Sequential outer{nn::Flatten(), nn::Sequential{nn::Linear(12, 8), nn::LayerNorm(7)}};
  try {
    outer(input);
    FAIL("expected a wisp::Error");
  } catch (const Error& error) {
    CHECK(std::string(error.what()) == "in layer 1 (Sequential): in layer 1 (LayerNorm): " + original);
  }
  // Exceptions that are not wisp::Errors become one, with their message.
  struct Throwing : nn::Module {
    Tensor forward(const Tensor&) override { throw std::runtime_error("custom failure"); }
  };
  nn::Sequential custom{nn::ReLU(), Throwing()};
  WISP_REQUIRE_ERROR(custom(input), "in layer 1 (Throwing): custom failure");
}

TEST_CASE("a braced Sequential initialises its layers left to right with every compiler", "[layers][modules]") {
  // The layers draw from the default generator when constructed: braces fix the order, so the model
  // equals one whose layers are constructed in separate statements, first to last.
  manual_seed(11);
  const nn::Sequential braced{nn::Linear(5, 4), nn::ReLU(), nn::Linear(4, 3)};
  manual_seed(11);
  nn::Sequential separate;
  separate.push_back(nn::Linear(5, 4));
  separate.push_back(nn::ReLU());
  separate.push_back(nn::Linear(4, 3));
  manual_seed(11);
  nn::Sequential chained;
  chained.push_back(nn::Linear(5, 4)).push_back(nn::ReLU()).push_back(nn::Linear(4, 3));
  const auto expected = braced.state_dict();
  for (const nn::Sequential* model : {&separate, &chained}) {
    const auto actual = model->state_dict();
    REQUIRE(actual.size() == expected.size());
    for (size_t i = 0; i < actual.size(); ++i) {
      INFO(actual[i].first);
      CHECK(actual[i].first == expected[i].first);
      CHECK(wisp::testing::values(actual[i].second) == wisp::testing::values(expected[i].second));
    }
  }
}
