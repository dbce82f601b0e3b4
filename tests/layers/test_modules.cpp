// nn::Module, Sequential, Linear, LayerNorm, ReLU, Flatten.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::printed;

namespace {
struct TwoLayer : nn::Module {
  std::shared_ptr<nn::Linear> first, second;
  Tensor scale;
  TwoLayer() {
    first = register_module("first", std::make_shared<nn::Linear>(4, 3));
    second = register_module("second", std::make_shared<nn::Linear>(3, 2, nn::LinearOptions().bias(false)));
    scale = register_parameter("scale", ones({4}));
    register_buffer("steps", zeros({1}, DType::Int64));
  }
  Tensor forward(const Tensor& x) override { return (*second)(relu((*first)(x * scale))); }
};
}  // namespace

TEST_CASE("Linear matches PyTorch's initialisation bounds and computes x Wᵀ + b", "[layers][modules]") {
  manual_seed(0);
  nn::Linear layer(100, 20);
  CHECK(layer.weight().shape() == Shape{20, 100});
  CHECK(layer.bias().shape() == Shape{20});
  CHECK(layer.weight().requires_grad());
  CHECK(layer.weight().is_leaf());
  const float bound = 1.0f / std::sqrt(100.0f);
  // U(-bound, bound) for the weights and the bias, as nn.Linear: within the bound, reaching near it,
  // with a uniform's variance bound²/3 (2000 weights: within 10%).
  const std::vector<float> weights = layer.weight().to_vector<float>();
  double squares = 0, largest = 0;
  for (float w : weights) {
    REQUIRE(std::abs(w) <= bound);
    squares += double(w) * w;
    largest = std::max(largest, double(std::abs(w)));
  }
  CHECK(largest > 0.9 * bound);
  CHECK(std::abs(squares / weights.size() / (bound * bound / 3.0) - 1.0) < 0.1);
  for (float b : layer.bias().to_vector<float>()) REQUIRE(std::abs(b) <= bound);
  Tensor x = randn({5, 100});
  NoGradGuard no_grad;
  wisp::testing::require_close(layer(x), linear(x, layer.weight(), layer.bias()));
  CHECK(printed(layer) == "Linear(in_features=100, out_features=20, bias=true)");
  CHECK(printed(nn::Linear(3, 4, nn::LinearOptions().bias(false))) ==
        "Linear(in_features=3, out_features=4, bias=false)");
  WISP_REQUIRE_ERROR(nn::Linear(0, 3), "positive", "0");
}

TEST_CASE("Sequential chains modules, names them and gives typed access", "[layers][modules]") {
  manual_seed(1);
  nn::Sequential model(nn::Flatten(), nn::Linear(12, 8), nn::LayerNorm(8), nn::ReLU(), nn::Linear(8, 3));
  CHECK(model.size() == 5);
  Tensor x = randn({2, 3, 4});
  Tensor out = model(x);
  CHECK(out.shape() == Shape{2, 3});
  {
    NoGradGuard no_grad;
    Tensor manual = model.at<nn::Linear>(4)(relu(model.at<nn::LayerNorm>(2)(model.at<nn::Linear>(1)(x.view({2, 12})))));
    wisp::testing::require_close(out, manual);
  }
  const auto named = model.named_parameters();
  REQUIRE(named.size() == 6);
  CHECK(named[0].first == "1.weight");
  CHECK(named[1].first == "1.bias");
  CHECK(named[2].first == "2.weight");
  CHECK(named[5].first == "4.bias");
  CHECK(model.num_parameters() == 12 * 8 + 8 + 8 + 8 + 8 * 3 + 3);
  CHECK(printed(*model[4]) == "Linear(in_features=8, out_features=3, bias=true)");
  CHECK(model[-1] == model[4]);
  CHECK(printed(model) ==
        "Sequential(\n"
        "  (0): Flatten(start_dim=1, end_dim=-1)\n"
        "  (1): Linear(in_features=12, out_features=8, bias=true)\n"
        "  (2): LayerNorm([8], eps=1e-05, elementwise_affine=true)\n"
        "  (3): ReLU()\n"
        "  (4): Linear(in_features=8, out_features=3, bias=true)\n"
        ")");
  WISP_REQUIRE_ERROR(model[5], "index 5 out of range for 5 modules");
  WISP_REQUIRE_ERROR(model.at<nn::Linear>(0), "Sequential::at<wisp::nn::Linear>(0)", "is a Flatten");
}

TEST_CASE("Sequential shares modules passed as shared pointers", "[layers][modules]") {
  auto shared = std::make_shared<nn::Linear>(2, 2);
  nn::Sequential model(shared, nn::ReLU());
  CHECK(model[0] == shared);
  CHECK(model.parameters()[0].impl() == shared->weight().impl());
}

TEST_CASE("a module used twice lists its parameters once, as PyTorch", "[layers][modules]") {
  // Tied weights: the same Linear at positions 0 and 2.
  auto tied = std::make_shared<nn::Linear>(3, 3);
  nn::Sequential model(tied, nn::ReLU(), tied);
  const auto named = model.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "0.weight");
  CHECK(named[1].first == "0.bias");
  CHECK(model.num_parameters() == 12);
  optim::SGD optimizer(model.parameters(), optim::SGDOptions(0.1));  // no "appears twice"
  model(ones({1, 3})).sum().backward();
  optimizer.step();
}

namespace {
template <class Inner>
struct Wrapper : nn::Module {
  std::shared_ptr<Inner> inner;
  Wrapper() { inner = register_module("inner", std::make_shared<Inner>(2, 2)); }
  Tensor forward(const Tensor& x) override { return (*inner)(x); }
};
}  // namespace

template <class T>
struct Outer {
  struct Block : nn::Module {};
};

template <class T>
std::string local_module_name() {
  struct Local : nn::Module {};
  return Local().name();
}

TEST_CASE("a template module prints its class name without the template arguments", "[layers][modules]") {
  Wrapper<nn::Linear> wrapper;
  CHECK(wrapper.name() == "Wrapper");
  CHECK(printed(wrapper).rfind("Wrapper(\n  (inner): Linear(", 0) == 0);
  CHECK(Outer<int>::Block().name() == "Block");       // a class nested in a class template
  CHECK(local_module_name<nn::Linear>() == "Local");  // a class defined in a function template
}

TEST_CASE("custom modules: registration, parameters, buffers, train/eval, zero_grad", "[layers][modules]") {
  manual_seed(2);
  TwoLayer net;
  const auto names = net.named_parameters();
  REQUIRE(names.size() == 4);
  CHECK(names[0].first == "scale");
  CHECK(names[1].first == "first.weight");
  CHECK(names[2].first == "first.bias");
  CHECK(names[3].first == "second.weight");
  CHECK(net.named_parameters(false).size() == 1);
  CHECK(net.named_buffers().size() == 1);
  CHECK(net.named_buffers()[0].first == "steps");
  CHECK(net.children().size() == 2);
  CHECK(net.name() == "TwoLayer");
  CHECK(printed(net) ==
        "TwoLayer(\n"
        "  (first): Linear(in_features=4, out_features=3, bias=true)\n"
        "  (second): Linear(in_features=3, out_features=2, bias=false)\n"
        ")");

  CHECK(net.is_training());
  CHECK(net.first->is_training());
  net.eval();
  CHECK_FALSE(net.is_training());
  CHECK_FALSE(net.second->is_training());
  net.train();
  CHECK(net.second->is_training());

  net(randn({5, 4})).sum().backward();
  for (const Tensor& p : net.parameters()) CHECK(p.grad().defined());
  net.zero_grad();
  for (const Tensor& p : net.parameters()) CHECK_FALSE(p.grad().defined());

  WISP_REQUIRE_ERROR(nn::Module().forward(ones({1})), "does not implement forward");
}

TEST_CASE("a custom module's gradients pass check_gradients", "[layers][modules]") {
  manual_seed(3);
  auto net = std::make_shared<TwoLayer>();
  auto function = [net](const std::vector<Tensor>& in) { return (*net)(in[0]); };
  // Inputs away from ReLU's kink: checked through the module's own parameters too.
  WISP_REQUIRE_GRADIENTS(function, {randn({3, 4})});
}

TEST_CASE("registration errors", "[layers][modules]") {
  struct Bad : nn::Module {
    void duplicate() {
      register_parameter("w", ones({1}));
      register_parameter("w", ones({1}));
    }
    void dotted() { register_buffer("a.b", ones({1})); }
    void undefined() { register_parameter("u", Tensor()); }
    void undefined_buffer() { register_buffer("b", Tensor()); }
    void null_module() { register_module("m", std::shared_ptr<nn::Linear>()); }
  };
  Bad bad;
  WISP_REQUIRE_ERROR(bad.duplicate(), "\"w\" is already registered");
  WISP_REQUIRE_ERROR(bad.dotted(), "\"a.b\"", "no '.'");
  WISP_REQUIRE_ERROR(bad.undefined(), "\"u\" must be a defined tensor");
  WISP_REQUIRE_ERROR(bad.undefined_buffer(), "\"b\" must be a defined tensor");
  WISP_REQUIRE_ERROR(bad.null_module(), "\"m\"", "must not be null");
}

TEST_CASE("LayerNorm module", "[layers][modules]") {
  nn::LayerNorm norm(4);
  CHECK(norm.weight().to_vector<float>() == std::vector<float>(4, 1.0f));
  CHECK(norm.bias().to_vector<float>() == std::vector<float>(4, 0.0f));
  Tensor out = norm(from_vector(std::vector<float>{1, 2, 3, 4}, {1, 4}));
  const float std_dev = std::sqrt(1.25f + 1e-5f);
  wisp::testing::require_close(
      out, from_vector(std::vector<float>{-1.5f / std_dev, -0.5f / std_dev, 0.5f / std_dev, 1.5f / std_dev}, {1, 4}),
      1e-5f);
  nn::LayerNorm plain(Shape{2, 3}, nn::LayerNormOptions().elementwise_affine(false).eps(1e-3));
  CHECK(plain.parameters().empty());
  CHECK(printed(plain) == "LayerNorm([2, 3], eps=0.001, elementwise_affine=false)");
  WISP_REQUIRE_ERROR(nn::LayerNorm(0), "positive", "[0]");
  WISP_REQUIRE_ERROR(nn::LayerNorm(Shape{}), "LayerNorm", "at least one normalized dimension");
  WISP_REQUIRE_ERROR(nn::LayerNorm(4, nn::LayerNormOptions().eps(0)), "LayerNorm", "eps > 0", "got 0");
}

TEST_CASE("Module::to keeps handles valid on the CPU", "[layers][modules]") {
  TwoLayer net;
  Tensor handle = net.scale;
  net.to(Device::cpu());
  CHECK(handle.impl() == net.parameters()[0].impl());
  CHECK(handle.device() == Device::cpu());
}
