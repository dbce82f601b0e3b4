// The public gradient checker accepts correct gradients and reports wrong ones.
#include "test_helpers.h"

using namespace wisp;

TEST_CASE("check_gradients passes a correct composite function", "[autograd][check_gradients]") {
  manual_seed(3);
  auto function = [](const std::vector<Tensor>& in) { return (in[0] * in[1] + in[0]) / (in[1] * in[1] + 1.0); };
  WISP_REQUIRE_GRADIENTS(function, {randn({3, 4}), randn({4})});
}

TEST_CASE("check_gradients catches a wrong backward", "[autograd][check_gradients]") {
  auto wrong_square = [](const std::vector<Tensor>& in) {
    return autograd::custom_op(
        "WrongSquareBackward", {in[0]},
        [](autograd::CustomOpContext& context, const std::vector<Tensor>& inputs) {
          context.save_for_backward({inputs[0]});
          return inputs[0] * inputs[0];
        },
        // The true derivative is 2x; this claims 3x.
        [](const autograd::CustomOpContext& context, const Tensor& g) -> std::vector<Tensor> {
          return {g * context.saved()[0] * 3.0};
        });
  };
  const auto result = autograd::check_gradients(wrong_square, {from_vector(std::vector<float>{1, 2, 3})});
  CHECK_FALSE(result.ok);
  CHECK(result.checked_elements == 3);
  CHECK(result.max_abs_error > 0.1);
  CHECK(result.message.find("input 0") != std::string::npos);
}

TEST_CASE("check_gradients reports inputs the gradient never reaches", "[autograd][check_gradients]") {
  auto ignores_second = [](const std::vector<Tensor>& in) {
    // in[1] changes the output but the gradient is cut by detach().
    return in[0] * 2.0 + in[1].detach();
  };
  const auto result = autograd::check_gradients(ignores_second, {randn({2}), randn({2})});
  CHECK_FALSE(result.ok);
  CHECK(result.message.find("no gradient reached") != std::string::npos);
}

TEST_CASE("check_gradients leaves the caller's tensors alone and skips integer inputs", "[autograd][check_gradients]") {
  Tensor x = from_vector(std::vector<float>{0.5f, 1.5f});
  Tensor index = from_vector(std::vector<int64_t>{1});
  auto function = [](const std::vector<Tensor>& in) {
    return in[0] * in[0] * static_cast<double>(in[1].item<int64_t>());
  };
  const auto result = autograd::check_gradients(function, {x, index});
  CHECK(result.ok);
  CHECK(result.checked_elements == 2);
  CHECK_FALSE(x.requires_grad());
  CHECK(x.to_vector<float>() == std::vector<float>{0.5f, 1.5f});
}

TEST_CASE("check_gradients: undefined inputs and outputs, and outputs off the tape", "[autograd][check_gradients]") {
  const auto identity = [](const std::vector<Tensor>& in) { return in[0] * 1.0; };
  WISP_REQUIRE_ERROR(autograd::check_gradients(identity, {Tensor()}), "check_gradients", "defined input");
  const auto nothing = [](const std::vector<Tensor>&) { return Tensor(); };
  WISP_REQUIRE_ERROR(autograd::check_gradients(nothing, {randn({2})}), "returned an undefined tensor");
  const auto detached = [](const std::vector<Tensor>& in) { return in[0].detach() * 2.0; };
  WISP_REQUIRE_ERROR(autograd::check_gradients(detached, {randn({2})}), "does not depend on any float32 input");
}

TEST_CASE("check_gradients says so when the function does not return float32", "[autograd][check_gradients]") {
  // Checked before anything else: an Int64 output also requires no grad, which would mislead.
  const auto argmax_of = [](const std::vector<Tensor>& in) { return in[0].argmax(); };
  WISP_REQUIRE_ERROR(autograd::check_gradients(argmax_of, {randn({4})}), "expected the function to return float32",
                     "int64");
}
