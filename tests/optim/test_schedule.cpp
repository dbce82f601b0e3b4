// Learning-rate schedules against torch.optim.lr_scheduler (tests/reference/adam_golden.h).
#include <cmath>
#include <map>
#include <string>

#include "reference/adam_golden.h"
#include "test_helpers.h"

using namespace wisp;
namespace adam_golden = wisp::golden::adam;

TEST_CASE("Schedules give torch.optim.lr_scheduler's learning rates, step by step", "[optim][schedule]") {
  const std::map<std::string, optim::Schedule> schedules = {
      {"step_decay(7, 0.5)", optim::step_decay(7, 0.5)},
      {"cosine(25, 0.1)", optim::cosine(25, 0.1)},
      {"cosine(40)", optim::cosine(40)},
      {"linear_warmup(8)", optim::linear_warmup(8)},
      {"warmup_cosine(5, 30, 0.05)", optim::warmup_cosine(5, 30, 0.05)},
      {"warmup_cosine(10, 100)", optim::warmup_cosine(10, 100)},
  };
  REQUIRE(schedules.size() == adam_golden::kSchedules.size());
  for (const adam_golden::ScheduledRates& expected : adam_golden::kSchedules) {
    INFO(expected.wisp_schedule << " against " << expected.torch_scheduler);
    const optim::Schedule& schedule = schedules.at(expected.wisp_schedule);
    // Through an optimizer: learning_rate() before each step is the rate that step uses.
    Tensor p = zeros({1});
    p.set_requires_grad(true);
    optim::SGD optimizer({p}, optim::SGDOptions(adam_golden::kScheduleBaseLr).schedule(schedule));
    for (size_t step = 0; step < expected.rates.size(); ++step) {
      INFO("step " << step);
      CHECK(schedule(static_cast<int64_t>(step)) * adam_golden::kScheduleBaseLr ==
            Approx(expected.rates[step]).epsilon(1e-12).margin(1e-15));
      CHECK(optimizer.learning_rate() == Approx(expected.rates[step]).epsilon(1e-12).margin(1e-15));
      p.set_grad(zeros({1}));
      optimizer.step();
    }
  }
}

TEST_CASE("SGD steps with the scheduled learning rate", "[optim][schedule][sgd]") {
  Tensor p = zeros({1});
  p.set_requires_grad(true);
  optim::SGD optimizer({p}, optim::SGDOptions(1.0).schedule(optim::step_decay(2, 0.5)));
  // Gradient 1 at every step: p moves by −1, −1, −0.5, −0.5, −0.25.
  const std::vector<float> expected = {-1.0f, -2.0f, -2.5f, -3.0f, -3.25f};
  for (float value : expected) {
    p.set_grad(ones({1}));
    optimizer.step();
    CHECK(p.item<float>() == value);
  }
  CHECK(optimizer.learning_rate() == 0.25);
}

TEST_CASE("Schedules: shapes past their end, printing and copies", "[optim][schedule]") {
  const optim::Schedule schedule = optim::warmup_cosine(4, 10, 0.2);
  CHECK(schedule(0) == 0.25);
  CHECK(schedule(3) == 1.0);
  CHECK(schedule(4) == 1.0);
  CHECK(schedule(10) == Approx(0.2));
  CHECK(schedule(1000) == Approx(0.2));  // constant after total_steps (CosineAnnealingLR would rise again)
  CHECK(optim::cosine(10)(10) == Approx(0.0).margin(1e-15));
  CHECK(optim::cosine(10)(11) == Approx(0.0).margin(1e-15));
  CHECK(optim::linear_warmup(1)(0) == 1.0);
  CHECK(optim::warmup_cosine(0, 10)(0) == 1.0);  // no warm-up: the cosine from step 0
  CHECK(optim::constant()(123) == 1.0);
  const optim::Schedule copy = schedule;
  CHECK(copy(2) == schedule(2));
  CHECK(wisp::testing::printed(schedule) == "warmup_cosine(warmup_steps=4, total_steps=10, final_factor=0.2)");
  CHECK(wisp::testing::printed(optim::step_decay(3, 0.1)) == "step_decay(step_size=3, gamma=0.1)");
  CHECK(wisp::testing::printed(optim::constant()) == "constant()");
  const optim::Schedule custom("inverse_sqrt", [](int64_t step) { return 1.0 / std::sqrt(step + 1.0); });
  CHECK(custom(3) == 0.5);
  CHECK(wisp::testing::printed(custom) == "inverse_sqrt");
}

TEST_CASE("Schedules reject invalid arguments, naming the value", "[optim][schedule]") {
  WISP_REQUIRE_ERROR(optim::step_decay(0, 0.5), "step_size >= 1", "0");
  WISP_REQUIRE_ERROR(optim::step_decay(2, -0.5), "gamma >= 0", "-0.5");
  WISP_REQUIRE_ERROR(optim::cosine(0), "total_steps >= 1");
  WISP_REQUIRE_ERROR(optim::cosine(10, 1.5), "0 <= final_factor <= 1", "1.5");
  WISP_REQUIRE_ERROR(optim::linear_warmup(0), "steps >= 1");
  WISP_REQUIRE_ERROR(optim::warmup_cosine(10, 10), "warmup_steps < total_steps", "10");
  WISP_REQUIRE_ERROR(optim::warmup_cosine(-1, 10), "0 <= warmup_steps");
  WISP_REQUIRE_ERROR(optim::constant()(-1), "step count >= 0", "-1");
  const optim::Schedule negative("negative", [](int64_t) { return -1.0; });
  WISP_REQUIRE_ERROR(negative(0), "negative", "factor >= 0", "-1");
  WISP_REQUIRE_ERROR(optim::Schedule("empty", nullptr), "expected a multiplier function");
}
