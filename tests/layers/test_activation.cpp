// nn::Tanh, nn::Sigmoid, nn::GELU and nn::Dropout: forward against their ops, printing, modes,
// gradients and option errors.
#include <vector>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::printed;
using wisp::testing::values;

TEST_CASE("Tanh, Sigmoid and GELU apply their ops and print as PyTorch", "[layers][activation]") {
  manual_seed(31);
  const Tensor x = randn({4, 5});
  nn::Tanh tanh_layer;
  nn::Sigmoid sigmoid_layer;
  nn::GELU gelu_layer;
  nn::GELU gelu_tanh_layer("tanh");
  CHECK(values(tanh_layer(x)) == values(tanh(x)));
  CHECK(values(sigmoid_layer(x)) == values(sigmoid(x)));
  CHECK(values(gelu_layer(x)) == values(gelu(x)));
  CHECK(values(gelu_tanh_layer(x)) == values(gelu(x, "tanh")));
  CHECK(gelu_tanh_layer.approximate() == "tanh");
  CHECK(printed(tanh_layer) == "Tanh()");
  CHECK(printed(sigmoid_layer) == "Sigmoid()");
  CHECK(printed(gelu_layer) == "GELU(approximate='none')");
  CHECK(printed(gelu_tanh_layer) == "GELU(approximate='tanh')");
  CHECK(tanh_layer.parameters().empty());
  WISP_REQUIRE_GRADIENTS([&](const std::vector<Tensor>& in) { return tanh_layer(in[0]); }, {x});
  WISP_REQUIRE_GRADIENTS([&](const std::vector<Tensor>& in) { return sigmoid_layer(in[0]); }, {x});
  WISP_REQUIRE_GRADIENTS([&](const std::vector<Tensor>& in) { return gelu_layer(in[0]); }, {x});
  WISP_REQUIRE_GRADIENTS([&](const std::vector<Tensor>& in) { return gelu_tanh_layer(in[0]); }, {x});
  WISP_REQUIRE_ERROR(nn::GELU("fast"), "GELU: expected approximate 'none' or 'tanh' but got 'fast'");
}

TEST_CASE("Dropout drops and scales in train(), passes the input in eval()", "[layers][activation]") {
  nn::Dropout dropout_layer(0.25);
  CHECK(printed(dropout_layer) == "Dropout(p=0.25)");
  CHECK(printed(nn::Dropout()) == "Dropout(p=0.5)");
  CHECK(dropout_layer.p() == 0.25);
  const Tensor x = ones({100, 100});
  manual_seed(32);
  const Tensor trained = dropout_layer(x);
  manual_seed(32);
  CHECK(values(trained) == values(dropout(x, 0.25)));  // the same draws as the op
  int64_t kept = 0;
  for (float v : values(trained)) {
    REQUIRE((v == 0.0f || v == Approx(4.0f / 3.0f)));
    kept += v != 0.0f;
  }
  CHECK(std::abs(kept - 7500) < 260);  // 10000 draws at 0.75: sigma 43
  dropout_layer.eval();
  CHECK(dropout_layer(x).impl() == x.impl());
  dropout_layer.train();
  CHECK(values(dropout_layer(x)) != values(x));
  // In a model: eval() reaches it through Sequential.
  nn::Sequential model(nn::Linear(3, 4), nn::GELU(), nn::Dropout(0.5), nn::Linear(4, 2));
  CHECK(printed(model).find("(2): Dropout(p=0.5)") != std::string::npos);
  model.eval();
  const Tensor input = randn({2, 3});
  CHECK(values(model(input)) == values(model(input)));
}

TEST_CASE("Dropout checks p", "[layers][activation]") {
  WISP_REQUIRE_ERROR(nn::Dropout(1.5), "Dropout: expected a probability p in [0, 1] but got 1.5");
  WISP_REQUIRE_ERROR(nn::Dropout(-0.5), "Dropout: expected a probability p in [0, 1] but got -0.5");
  CHECK(values(nn::Dropout(1.0)(ones({3}))) == std::vector<float>{0, 0, 0});
}
