// Adam and AdamW against PyTorch trajectories (tests/reference/adam_golden.h), their state and
// argument checks.
#include <algorithm>
#include <map>
#include <memory>

#include "reference/adam_golden.h"
#include "test_helpers.h"

using namespace wisp;
using wisp::testing::values;
namespace adam_golden = wisp::golden::adam;

namespace {

// Adam or AdamW as the golden configuration describes it.
std::unique_ptr<optim::Optimizer> make_optimizer(const adam_golden::Trajectory& c, std::vector<Tensor> parameters) {
  const optim::Schedule schedule =
      c.warmup_cosine ? optim::warmup_cosine(adam_golden::kWarmupSteps, adam_golden::kTotalSteps) : optim::constant();
  if (c.decoupled) {
    return std::make_unique<optim::AdamW>(parameters, optim::AdamWOptions(c.lr)
                                                          .betas(c.beta1, c.beta2)
                                                          .eps(c.eps)
                                                          .weight_decay(c.weight_decay)
                                                          .amsgrad(c.amsgrad)
                                                          .schedule(schedule));
  }
  return std::make_unique<optim::Adam>(parameters, optim::AdamOptions(c.lr)
                                                       .betas(c.beta1, c.beta2)
                                                       .eps(c.eps)
                                                       .weight_decay(c.weight_decay)
                                                       .amsgrad(c.amsgrad)
                                                       .schedule(schedule));
}

bool skipped_for_second(int step) {
  const std::vector<int>& skipped = adam_golden::kSkippedStepsForSecond;
  return std::find(skipped.begin(), skipped.end(), step) != skipped.end();
}

}  // namespace

TEST_CASE("Adam and AdamW follow torch.optim for 100 steps", "[optim][adam]") {
  for (size_t c = 0; c < adam_golden::kTrajectories.size(); ++c) {
    const adam_golden::Trajectory& expected = adam_golden::kTrajectories[c];
    INFO("configuration " << c << ": " << (expected.decoupled ? "AdamW" : "Adam") << " lr " << expected.lr << " betas "
                          << expected.beta1 << ", " << expected.beta2 << " eps " << expected.eps << " weight_decay "
                          << expected.weight_decay << " amsgrad " << expected.amsgrad << " warmup_cosine "
                          << expected.warmup_cosine);
    Tensor first = from_vector(adam_golden::kInitialFirst, {5});
    Tensor second = from_vector(adam_golden::kInitialSecond, {3, 4});
    first.set_requires_grad(true);
    second.set_requires_grad(true);
    std::unique_ptr<optim::Optimizer> optimizer = make_optimizer(expected, {first, second});
    for (int step = 0; step < adam_golden::kSteps; ++step) {
      INFO("step " << step);
      first.set_grad(from_vector(adam_golden::kGradFirst[step], {5}));
      second.set_grad(skipped_for_second(step) ? Tensor() : from_vector(adam_golden::kGradSecond[step], {3, 4}));
      optimizer->step();
      wisp::testing::require_close(first, from_vector(expected.first[step], {5}), 1e-5f);
      wisp::testing::require_close(second, from_vector(expected.second[step], {3, 4}), 1e-5f);
    }
    CHECK(optimizer->steps() == adam_golden::kSteps);
    const auto& adam = dynamic_cast<const optim::AdamBase&>(*optimizer);
    // Each parameter counts its own steps, as PyTorch's state["step"].
    CHECK(adam.step_count(first) == adam_golden::kSteps);
    CHECK(adam.step_count(second) ==
          adam_golden::kSteps - static_cast<int64_t>(adam_golden::kSkippedStepsForSecond.size()));
  }
}

TEST_CASE("Adam's state: created at the first step with a gradient, one tensor per moment", "[optim][adam]") {
  Tensor p = ones({2});
  Tensor q = ones({3});
  p.set_requires_grad(true);
  q.set_requires_grad(true);
  optim::Adam optimizer({p, q}, optim::AdamOptions(0.1).amsgrad(true));
  CHECK(optimizer.state_of(p).empty());
  CHECK_FALSE(optimizer.exp_avg(p).defined());
  CHECK(optimizer.step_count(p) == 0);
  p.set_grad(full({2}, 2.0));
  optimizer.step();
  // First step: m = 0.1 · 2, v = 0.001 · 4; bias-corrected m̂ = 2, v̂ = 4: p −= 0.1 · 2 / (2 + 1e-8).
  CHECK(values(optimizer.exp_avg(p)) == std::vector<float>{0.2f, 0.2f});
  CHECK(values(optimizer.exp_avg_sq(p))[0] == Approx(0.004f));
  CHECK(values(p)[0] == Approx(0.9f));
  REQUIRE(optimizer.state_of(p).size() == 3);  // m, v, v_max
  CHECK(optimizer.state_of(p)[0].impl() == optimizer.exp_avg(p).impl());
  CHECK(optimizer.state_of(p)[2].impl() == optimizer.max_exp_avg_sq(p).impl());
  CHECK(optimizer.state_of(q).empty());  // no gradient yet: no state
  CHECK(values(q) == std::vector<float>{1, 1, 1});
  CHECK(optimizer.step_count(q) == 0);

  optim::AdamW without_amsgrad({p}, optim::AdamWOptions(0.1));
  p.set_grad(ones({2}));
  without_amsgrad.step();
  CHECK(without_amsgrad.state_of(p).size() == 2);
  CHECK_FALSE(without_amsgrad.max_exp_avg_sq(p).defined());
  Tensor stranger = ones({1});
  WISP_REQUIRE_ERROR(without_amsgrad.exp_avg(stranger), "not one of this optimizer's parameters");
}

TEST_CASE("AdamW's options default to PyTorch's", "[optim][adam]") {
  const optim::AdamWOptions adamw(1e-3);
  CHECK(adamw.weight_decay() == 1e-2);
  CHECK(adamw.betas() == std::pair<double, double>(0.9, 0.999));
  CHECK(adamw.eps() == 1e-8);
  CHECK_FALSE(adamw.amsgrad());
  CHECK(optim::AdamOptions(1e-3).weight_decay() == 0);
  CHECK(wisp::testing::printed(optim::AdamOptions(1e-3)) ==
        "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, amsgrad=false, schedule=constant())");
  CHECK(wisp::testing::printed(optim::AdamWOptions(1e-3).lr(0.5).schedule(optim::linear_warmup(4))) ==
        "AdamW(lr=0.5, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01, amsgrad=false, "
        "schedule=linear_warmup(steps=4))");
}

TEST_CASE("Adam's learning_rate() follows the schedule of its step count", "[optim][adam]") {
  Tensor p = zeros({1});
  p.set_requires_grad(true);
  optim::Adam optimizer({p}, optim::AdamOptions(0.5).schedule(optim::linear_warmup(4)));
  for (int step = 0; step < 6; ++step) {
    CHECK(optimizer.learning_rate() == Approx(0.5 * std::min(1.0, (step + 1) / 4.0)));
    p.set_grad(ones({1}));
    optimizer.step();
  }
}

TEST_CASE("Adam's moments move with RigL's connections, new ones start at zero", "[optim][adam][rigl]") {
  manual_seed(5);
  const int64_t in = 12, out = 6, rows = 8;
  nn::SparseLinear layer(in, out, nn::SparseLinearOptions().sparsity(0.7).dynamic(true).delta_t(2).alpha(0.5));
  const double beta1 = 0.9, beta2 = 0.999;
  optim::Adam optimizer(layer.parameters(), optim::AdamOptions(0.01).betas(beta1, beta2));
  // The positions o · in + i of the layer's connections, in the order of its weights.
  const auto positions = [&] {
    const std::vector<int64_t> indices = layer.weight().indices().to_vector<int64_t>();
    const size_t nnz = indices.size() / 2;
    std::vector<int64_t> result(nnz);
    for (size_t k = 0; k < nnz; ++k) result[k] = indices[k] * in + indices[nnz + k];
    return result;
  };
  (layer(randn({rows, in})) * randn({rows, out})).sum().backward();
  optimizer.step();  // step 1: no rewiring; creates the moments
  optimizer.zero_grad();
  const std::vector<Tensor> state = optimizer.state_of(layer.weights());
  REQUIRE(state.size() == 2);
  const std::vector<int64_t> old_positions = positions();
  std::vector<float> m = values(state[0]), v = values(state[1]);

  (layer(randn({rows, in})) * randn({rows, out})).sum().backward();
  const std::vector<float> grad = values(layer.weights().grad());
  for (size_t k = 0; k < m.size(); ++k) {  // what step 2's update makes of them, before RigL moves them
    m[k] = static_cast<float>(beta1) * m[k] + static_cast<float>(1 - beta1) * grad[k];
    v[k] = static_cast<float>(beta2) * v[k] + static_cast<float>(1 - beta2) * grad[k] * grad[k];
  }
  optimizer.step();  // step 2: Adam's update, then RigL rewires
  REQUIRE(layer.rigl_statistics().updates == 1);
  REQUIRE(layer.rigl_statistics().moved > 0);
  const std::vector<Tensor> moved_state = optimizer.state_of(layer.weights());
  REQUIRE(moved_state.size() == 2);
  CHECK(moved_state[0].impl() == state[0].impl());  // the same tensors, permuted in place
  CHECK(moved_state[1].impl() == state[1].impl());
  std::map<int64_t, size_t> old_index_of;
  for (size_t k = 0; k < old_positions.size(); ++k) old_index_of[old_positions[k]] = k;
  const std::vector<int64_t> new_positions = positions();
  const std::vector<float> new_w = values(layer.weights()), new_m = values(state[0]), new_v = values(state[1]);
  int64_t grown = 0;
  for (size_t j = 0; j < new_positions.size(); ++j) {
    const auto old = old_index_of.find(new_positions[j]);
    if (old == old_index_of.end()) {
      ++grown;
      CHECK(new_w[j] == 0.0f);
      CHECK(new_m[j] == 0.0f);
      CHECK(new_v[j] == 0.0f);
    } else {
      CHECK(new_m[j] == Approx(m[old->second]).margin(1e-7));
      CHECK(new_v[j] == Approx(v[old->second]).margin(1e-9));
    }
  }
  CHECK(grown == layer.rigl_statistics().moved);
  CHECK(optimizer.step_count(layer.weights()) == 2);  // the parameter's count, kept by the rewiring
}

TEST_CASE("Adam and AdamW reject invalid arguments, naming the value", "[optim][adam]") {
  Tensor p = ones({2});
  p.set_requires_grad(true);
  WISP_REQUIRE_ERROR(optim::Adam({p}, optim::AdamOptions(-0.1)), "Adam", "learning rate >= 0", "-0.1");
  WISP_REQUIRE_ERROR(optim::Adam({p}, optim::AdamOptions(0.1).betas(1.0, 0.999)), "0 <= beta1 < 1", "1");
  WISP_REQUIRE_ERROR(optim::Adam({p}, optim::AdamOptions(0.1).betas(0.9, -0.5)), "0 <= beta2 < 1", "-0.5");
  WISP_REQUIRE_ERROR(optim::Adam({p}, optim::AdamOptions(0.1).eps(-1e-3)), "eps >= 0", "-0.001");
  WISP_REQUIRE_ERROR(optim::Adam({p}, optim::AdamOptions(0.1).weight_decay(-2)), "weight_decay >= 0", "-2");
  WISP_REQUIRE_ERROR(optim::AdamW({p}, optim::AdamWOptions(0.1).weight_decay(-2)), "AdamW", "weight_decay >= 0");
  WISP_REQUIRE_ERROR(optim::AdamW({p}, optim::AdamWOptions(0.1).betas(0.9, 1.5)), "AdamW", "beta2", "1.5");
  WISP_REQUIRE_ERROR(optim::AdamW({}, optim::AdamWOptions(0.1)), "at least one parameter");
  WISP_REQUIRE_ERROR(optim::Adam({p * 2.0}, optim::AdamOptions(0.1)), "must be a leaf tensor");
}
