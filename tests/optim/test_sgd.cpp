// SGD against PyTorch trajectories (tests/reference/sgd_golden.h) and its argument checks.
#include "reference/sgd_golden.h"
#include "test_helpers.h"

using namespace wisp;
using wisp::testing::values;
namespace sgd_golden = wisp::golden::sgd;

TEST_CASE("SGD follows torch.optim.SGD step by step", "[optim][sgd]") {
  for (size_t c = 0; c < sgd_golden::kTrajectories.size(); ++c) {
    const sgd_golden::Trajectory& expected = sgd_golden::kTrajectories[c];
    INFO("configuration " << c << ": lr " << expected.lr << " momentum " << expected.momentum << " dampening "
                          << expected.dampening << " weight_decay " << expected.weight_decay << " nesterov "
                          << expected.nesterov);
    Tensor first = from_vector(sgd_golden::kInitialFirst, {3});
    Tensor second = from_vector(sgd_golden::kInitialSecond, {2, 2});
    first.set_requires_grad(true);
    second.set_requires_grad(true);
    optim::SGD optimizer({first, second}, optim::SGDOptions(expected.lr)
                                              .momentum(expected.momentum)
                                              .dampening(expected.dampening)
                                              .weight_decay(expected.weight_decay)
                                              .nesterov(expected.nesterov));
    for (int step = 0; step < sgd_golden::kSteps; ++step) {
      INFO("step " << step);
      first.set_grad(from_vector(sgd_golden::kGradFirst[step], {3}));
      second.set_grad(step == sgd_golden::kSkippedStepForSecond ? Tensor()
                                                                : from_vector(sgd_golden::kGradSecond[step], {2, 2}));
      optimizer.step();
      wisp::testing::require_close(first, from_vector(expected.first[step], {3}), 1e-6f);
      wisp::testing::require_close(second, from_vector(expected.second[step], {2, 2}), 1e-6f);
    }
    CHECK(optimizer.steps() == sgd_golden::kSteps);
  }
}

TEST_CASE("SGD state, zero_grad and learning-rate changes", "[optim][sgd]") {
  Tensor p = ones({2});
  p.set_requires_grad(true);
  optim::SGD optimizer({p}, optim::SGDOptions(0.5).momentum(0.9));
  CHECK_FALSE(optimizer.momentum_buffer(p).defined());
  CHECK(optimizer.state_of(p).empty());
  p.set_grad(full({2}, 2.0));
  optimizer.step();
  CHECK(optimizer.momentum_buffer(p).to_vector<float>() == std::vector<float>{2, 2});
  CHECK(p.to_vector<float>() == std::vector<float>{0, 0});
  REQUIRE(optimizer.state_of(p).size() == 1);
  optimizer.zero_grad();
  CHECK_FALSE(p.grad().defined());
  optimizer.step();  // no gradient: nothing changes
  CHECK(p.to_vector<float>() == std::vector<float>{0, 0});
  optimizer.set_learning_rate(1.0);
  p.set_grad(zeros({2}));
  optimizer.step();  // buffer = 0.9 * 2; p -= 1.0 * 1.8
  CHECK(p.to_vector<float>()[0] == Approx(-1.8f));
  Tensor stranger = ones({1});
  WISP_REQUIRE_ERROR(optimizer.momentum_buffer(stranger), "not one of this optimizer's parameters");
}

TEST_CASE("SGD accepts a frozen parameter (requires_grad false) and leaves it alone", "[optim][sgd]") {
  // As torch.optim.SGD: model.parameters() may include parameters registered without gradients.
  struct Net : nn::Module {
    Tensor weight, frozen;
    Net() {
      weight = register_parameter("weight", ones({2}));
      frozen = register_parameter("frozen", ones({2}), /*requires_grad=*/false);
    }
  } net;
  optim::SGD optimizer(net.parameters(), optim::SGDOptions(0.5).momentum(0.9));
  (net.weight * net.frozen).sum().backward();
  optimizer.step();
  CHECK(values(net.weight) == std::vector<float>{0.5f, 0.5f});
  CHECK(values(net.frozen) == std::vector<float>{1, 1});
  CHECK_FALSE(net.frozen.grad().defined());
}

TEST_CASE("SGD rejects invalid arguments", "[optim][sgd]") {
  Tensor p = ones({2});
  p.set_requires_grad(true);
  WISP_REQUIRE_ERROR(optim::SGD({p}, optim::SGDOptions(-0.1)), "learning rate >= 0", "-0.1");
  WISP_REQUIRE_ERROR(optim::SGD({p}, optim::SGDOptions(0.1).momentum(-1)), "momentum >= 0", "-1");
  WISP_REQUIRE_ERROR(optim::SGD({p}, optim::SGDOptions(0.1).weight_decay(-0.5)), "weight_decay >= 0", "-0.5");
  WISP_REQUIRE_ERROR(optim::SGD({p}, optim::SGDOptions(0.1).nesterov(true)), "Nesterov", "momentum > 0");
  WISP_REQUIRE_ERROR(optim::SGD({p}, optim::SGDOptions(0.1).momentum(0.9).dampening(0.1).nesterov(true)),
                     "dampening = 0");
  WISP_REQUIRE_ERROR(optim::SGD({}, optim::SGDOptions(0.1)), "at least one parameter");
  WISP_REQUIRE_ERROR(optim::SGD({p * 2.0}, optim::SGDOptions(0.1)), "must be a leaf tensor", "MulBackward");
  WISP_REQUIRE_ERROR(optim::SGD({p, Tensor()}, optim::SGDOptions(0.1)), "parameter 1 is undefined");
  WISP_REQUIRE_ERROR(optim::SGD({zeros({2}, DType::Int64)}, optim::SGDOptions(0.1)), "float32 parameters",
                     "parameter 0 is int64");
  WISP_REQUIRE_ERROR(optim::SGD({p, p}, optim::SGDOptions(0.1)), "appears twice");
  optim::SGD optimizer({p}, optim::SGDOptions(0.1));
  p.set_grad(ones({2}));
  WISP_REQUIRE_ERROR(optimizer.set_learning_rate(-1), "learning rate >= 0");
}
