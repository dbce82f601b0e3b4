#include "wisp/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <sstream>
#include <utility>

#include "wisp/core/error.h"

namespace wisp::optim {
namespace {

constexpr double kPi = 3.14159265358979323846;

double cosine_factor(int64_t step, int64_t total_steps, double final_factor) {
  const double progress = static_cast<double>(std::min(step, total_steps)) / static_cast<double>(total_steps);
  return final_factor + (1 - final_factor) * (1 + std::cos(kPi * progress)) / 2;
}

void check_final_factor(const char* name, double final_factor) {
  WISP_CHECK(final_factor >= 0 && final_factor <= 1, name, ": expected 0 <= final_factor <= 1 but got ", final_factor);
}

template <class... Parts>
std::string described(const Parts&... parts) {
  std::ostringstream stream;
  (stream << ... << parts);
  return stream.str();
}

}  // namespace

Schedule::Schedule() : Schedule("constant()", [](int64_t) { return 1.0; }) {}

Schedule::Schedule(std::string description, std::function<double(int64_t)> multiplier)
    : description_(std::move(description)), multiplier_(std::move(multiplier)) {
  WISP_CHECK(static_cast<bool>(multiplier_), "Schedule ", description_,
             ": expected a multiplier function but got none");
}

double Schedule::operator()(int64_t step) const {
  WISP_CHECK(step >= 0, "Schedule ", description_, ": expected a step count >= 0 but got ", step);
  const double factor = multiplier_(step);
  WISP_CHECK(factor >= 0, "Schedule ", description_, ": expected a factor >= 0 but got ", factor, " at step ", step);
  return factor;
}

std::ostream& operator<<(std::ostream& stream, const Schedule& schedule) { return stream << schedule.description(); }

Schedule constant() { return Schedule(); }

Schedule step_decay(int64_t step_size, double gamma) {
  WISP_CHECK(step_size >= 1, "step_decay: expected step_size >= 1 but got ", step_size);
  WISP_CHECK(gamma >= 0, "step_decay: expected gamma >= 0 but got ", gamma);
  return Schedule(described("step_decay(step_size=", step_size, ", gamma=", gamma, ")"),
                  [step_size, gamma](int64_t step) { return std::pow(gamma, static_cast<double>(step / step_size)); });
}

Schedule cosine(int64_t total_steps, double final_factor) {
  WISP_CHECK(total_steps >= 1, "cosine: expected total_steps >= 1 but got ", total_steps);
  check_final_factor("cosine", final_factor);
  return Schedule(described("cosine(total_steps=", total_steps, ", final_factor=", final_factor, ")"),
                  [total_steps, final_factor](int64_t step) { return cosine_factor(step, total_steps, final_factor); });
}

Schedule linear_warmup(int64_t steps) {
  WISP_CHECK(steps >= 1, "linear_warmup: expected steps >= 1 but got ", steps);
  return Schedule(described("linear_warmup(steps=", steps, ")"), [steps](int64_t step) {
    return std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(steps));
  });
}

Schedule warmup_cosine(int64_t warmup_steps, int64_t total_steps, double final_factor) {
  WISP_CHECK(warmup_steps >= 0 && warmup_steps < total_steps,
             "warmup_cosine: expected 0 <= warmup_steps < total_steps but got warmup_steps ", warmup_steps,
             " and total_steps ", total_steps);
  check_final_factor("warmup_cosine", final_factor);
  return Schedule(described("warmup_cosine(warmup_steps=", warmup_steps, ", total_steps=", total_steps,
                            ", final_factor=", final_factor, ")"),
                  [warmup_steps, total_steps, final_factor](int64_t step) {
                    if (step < warmup_steps) return static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
                    return cosine_factor(step - warmup_steps, total_steps - warmup_steps, final_factor);
                  });
}

}  // namespace wisp::optim
