// optim::Schedule: a learning-rate schedule as a pure function of the optimizer's step count (as in
// optax): a multiplier of the optimizer's base learning rate, with no state of its own, so that an
// optimizer's step count is all a checkpoint needs to resume it.
//
// Convention (PyTorch's LambdaLR): step() number k, counted from 0 (optimizer.steps() == k before the
// call), uses base learning rate × f(k); the first step uses f(0). optimizer.learning_rate() is the
// rate the next step() uses.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace wisp::optim {

class Schedule {
 public:
  // f(k) = 1 (constant()).
  Schedule();
  // A schedule of one's own: `multiplier` maps the step count (>= 0) to a factor >= 0 of the base
  // learning rate; `description` is what printing shows.
  Schedule(std::string description, std::function<double(int64_t)> multiplier);

  // The factor for step count `step` (>= 0).
  double operator()(int64_t step) const;
  const std::string& description() const { return description_; }

 private:
  std::string description_;
  std::function<double(int64_t)> multiplier_;
};

std::ostream& operator<<(std::ostream& stream, const Schedule& schedule);

// f(k) = 1.
Schedule constant();
// f(k) = gamma^⌊k / step_size⌋ (PyTorch's StepLR). step_size >= 1, gamma >= 0.
Schedule step_decay(int64_t step_size, double gamma);
// f(k) = final_factor + (1 − final_factor) · (1 + cos(π · min(k, total_steps) / total_steps)) / 2: from 1
// at k = 0 down to final_factor at k = total_steps, then constant (PyTorch's CosineAnnealingLR with
// T_max = total_steps and eta_min = final_factor · lr, up to T_max). total_steps >= 1,
// 0 <= final_factor <= 1.
Schedule cosine(int64_t total_steps, double final_factor = 0);
// f(k) = min(1, (k + 1) / steps): the first step uses lr / steps, step `steps − 1` and later the full
// rate (PyTorch's LinearLR with start_factor = 1 / steps, total_iters = steps − 1). steps >= 1.
Schedule linear_warmup(int64_t steps);
// linear_warmup(warmup_steps) for k < warmup_steps, then a cosine from 1 down to final_factor over
// the remaining total_steps − warmup_steps steps:
//   f(k) = (k + 1) / warmup_steps                                         for k < warmup_steps
//   f(k) = final_factor + (1 − final_factor) · (1 + cos(π · min(k − warmup_steps, d) / d)) / 2
//                                      with d = total_steps − warmup_steps, for k >= warmup_steps
// 0 <= warmup_steps < total_steps, 0 <= final_factor <= 1.
Schedule warmup_cosine(int64_t warmup_steps, int64_t total_steps, double final_factor = 0);

}  // namespace wisp::optim
