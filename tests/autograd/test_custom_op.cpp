// autograd::custom_op: a user's forward (run with recording off) and backward, recorded as one entry.
#include <cmath>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::values;

namespace {

// softplus(x) = log(1 + exp(x)), computed by a plain loop (as a user's own kernel would), with the
// derivative sigmoid(x) = 1 / (1 + exp(-x)), also by a loop.
Tensor softplus(const Tensor& x) {
  return autograd::custom_op(
      "SoftplusBackward", {x},
      [](autograd::CustomOpContext& context, const std::vector<Tensor>& in) {
        context.save_for_backward({in[0]});
        Tensor out = zeros_like(in[0]);
        const float* input = in[0].data<float>();
        float* output = out.data<float>();
        for (int64_t i = 0; i < out.numel(); ++i) output[i] = std::log1p(std::exp(input[i]));
        return out;
      },
      [](const autograd::CustomOpContext& context, const Tensor& grad_output) -> std::vector<Tensor> {
        const Tensor& x = context.saved()[0];
        Tensor grad = zeros_like(x);
        const float* input = x.data<float>();
        const float* upstream = grad_output.data<float>();
        float* result = grad.data<float>();
        for (int64_t i = 0; i < grad.numel(); ++i) result[i] = upstream[i] / (1.0f + std::exp(-input[i]));
        return {grad};
      });
}

// x * w² + w with w broadcast over x's rows ([rows, n] and [n]), built from existing ops inside the
// forward; the backward reduces w's gradient over the rows.
Tensor scaled_square(const Tensor& x, const Tensor& w) {
  return autograd::custom_op(
      "ScaledSquareBackward", {x, w},
      [](autograd::CustomOpContext& context, const std::vector<Tensor>& in) {
        context.save_for_backward({in[0], in[1]});
        return in[0] * in[1] * in[1] + in[1];
      },
      [](const autograd::CustomOpContext& context, const Tensor& grad_output) -> std::vector<Tensor> {
        const Tensor& x = context.saved()[0];
        const Tensor& w = context.saved()[1];
        Tensor grad_x = context.needs_input_grad(0) ? grad_output * w * w : Tensor();
        Tensor grad_w = context.needs_input_grad(1) ? (grad_output * x * w * 2.0 + grad_output).sum(0) : Tensor();
        return {grad_x, grad_w};
      });
}

}  // namespace

TEST_CASE("custom_op: the forward and backward pass check_gradients", "[autograd][custom_op]") {
  manual_seed(11);
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return softplus(in[0]); }, {randn({3, 4})});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return scaled_square(in[0], in[1]); },
                         {randn({3, 4}), randn({4})});
  // Composed with built-in ops on both sides.
  WISP_REQUIRE_GRADIENTS(
      [](const std::vector<Tensor>& in) { return softplus(scaled_square(in[0] * 0.5, in[1])).sum(1); },
      {randn({2, 3}), randn({3})});
}

TEST_CASE("custom_op: one entry on the tape, gradients reach earlier ops", "[autograd][custom_op]") {
  Tensor w = from_vector(std::vector<float>{1, 2});
  w.set_requires_grad(true);
  Tensor hidden = w * 3.0;  // an earlier op: its gradient must come through the custom op
  Tensor x = from_vector(std::vector<float>{1, 1, 2, 2}, {2, 2});
  Tensor out = scaled_square(x, hidden);
  CHECK(out.requires_grad());
  CHECK(out.grad_fn_name() == "ScaledSquareBackward");  // the ops inside the forward were not recorded
  out.sum().backward();
  // d/dw sum(x * (3w)² + 3w) = Σ_rows x · 18w + 3 per row.
  CHECK(values(w.grad()) == std::vector<float>{(1 + 2) * 18 * 1 + 6, (1 + 2) * 18 * 2 + 6});
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("custom_op: unrecorded under NoGradGuard and when nothing requires grad", "[autograd][custom_op]") {
  Tensor w = from_vector(std::vector<float>{0.5f, -1.0f});
  w.set_requires_grad(true);
  Tensor x = from_vector(std::vector<float>{1, 2}, {1, 2});
  {
    NoGradGuard no_grad;  // an evaluation loop: no error, nothing recorded
    const Tensor out = scaled_square(x, w);
    CHECK_FALSE(out.requires_grad());
    CHECK(values(out) == std::vector<float>{1.0f * 0.25f + 0.5f, 2.0f * 1.0f - 1.0f});
    CHECK_FALSE(GradMode::is_enabled());  // the guard's state is kept
  }
  CHECK(GradMode::is_enabled());
  CHECK_FALSE(scaled_square(x, w.detach()).requires_grad());
}

TEST_CASE("custom_op: needs_input_grad tells the backward which gradients are needed", "[autograd][custom_op]") {
  Tensor x = from_vector(std::vector<float>{1, 2}, {1, 2});
  Tensor w = from_vector(std::vector<float>{3, 4});
  w.set_requires_grad(true);
  std::vector<bool> seen;
  Tensor out = autograd::custom_op(
      "RecordNeedsBackward", {x, w},
      [](autograd::CustomOpContext&, const std::vector<Tensor>& in) { return in[0] * in[1]; },
      [&seen](const autograd::CustomOpContext& context, const Tensor&) -> std::vector<Tensor> {
        seen = {context.needs_input_grad(0), context.needs_input_grad(1)};
        WISP_REQUIRE_ERROR(context.needs_input_grad(2), "needs_input_grad", "input 2 out of range [0, 2)");
        return {Tensor(), ones({2})};
      });
  out.sum().backward();
  CHECK(seen == std::vector<bool>{false, true});
  CHECK(values(w.grad()) == std::vector<float>{1, 1});
}

TEST_CASE("custom_op: an identity forward, and the checks on what the pair returns", "[autograd][custom_op]") {
  Tensor x = from_vector(std::vector<float>{1, 2, 3});
  x.set_requires_grad(true);
  // The forward sees detached inputs, so returning one records a new tensor and x stays a leaf.
  Tensor same = autograd::custom_op(
      "NegateGradientBackward", {x}, [](autograd::CustomOpContext&, const std::vector<Tensor>& in) { return in[0]; },
      [](const autograd::CustomOpContext&, const Tensor& g) -> std::vector<Tensor> { return {g * -1.0}; });
  CHECK(x.is_leaf());
  CHECK(same.raw_data() == x.raw_data());
  same.sum().backward();
  CHECK(values(x.grad()) == std::vector<float>{-1, -1, -1});

  const auto identity_backward = [](const autograd::CustomOpContext&, const Tensor& g) -> std::vector<Tensor> {
    return {g};
  };
  WISP_REQUIRE_ERROR(
      autograd::custom_op(
          "UndefinedBackward", {x}, [](autograd::CustomOpContext&, const std::vector<Tensor>&) { return Tensor(); },
          identity_backward),
      "custom_op(UndefinedBackward)", "forward returned an undefined tensor");
  // A forward returning a tensor that requires grad (not computed from its arguments) is refused,
  // with recording on or off.
  const auto returns_captured = [x](autograd::CustomOpContext&, const std::vector<Tensor>&) { return x; };
  WISP_REQUIRE_ERROR(autograd::custom_op("CapturedBackward", {x}, returns_captured, identity_backward),
                     "custom_op(CapturedBackward)", "forward returned a tensor that requires grad");
  {
    NoGradGuard no_grad;
    WISP_REQUIRE_ERROR(autograd::custom_op("CapturedBackward", {x}, returns_captured, identity_backward),
                       "custom_op(CapturedBackward)", "forward returned a tensor that requires grad");
  }
  Tensor wrong = autograd::custom_op(
      "WrongShapeBackward", {x}, [](autograd::CustomOpContext&, const std::vector<Tensor>& in) { return in[0] * 2.0; },
      [](const autograd::CustomOpContext&, const Tensor&) -> std::vector<Tensor> { return {ones({4})}; });
  WISP_REQUIRE_ERROR(wrong.sum().backward(), "WrongShapeBackward", "shape [4]", "expected [3]");
}

TEST_CASE("custom_op: a saved tensor updated in place before backward is an error", "[autograd][custom_op]") {
  Tensor x = from_vector(std::vector<float>{1, 2}, {1, 2});
  Tensor w = from_vector(std::vector<float>{3, 4});
  w.set_requires_grad(true);
  Tensor loss = scaled_square(x, w).sum();  // saves x and w
  x.mul_(10.0);                             // x needs no gradient, so this is allowed, but backward reads x
  WISP_REQUIRE_ERROR(loss.backward(), "ScaledSquareBackward", "updated in place");
}
