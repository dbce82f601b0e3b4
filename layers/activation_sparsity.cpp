#include "wisp/layers/activation_sparsity.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "wisp/core/factories.h"
#include "wisp/ops/functional.h"  // relu
#include "wisp/ops/k_winners.h"

namespace wisp::nn {

ActivationSparsity::ActivationSparsity(ActivationSparsityOptions options) : options_(options) {
  WISP_CHECK(options.act_sparsity() >= 0 && options.act_sparsity() < 1,
             "ActivationSparsity: expected act_sparsity in [0, 1) but got ", options.act_sparsity());
  WISP_CHECK(options.alpha() > 0 && options.alpha() <= 1, "ActivationSparsity: expected alpha in (0, 1] but got ",
             options.alpha());
  WISP_CHECK(std::isfinite(options.beta()) && options.beta() >= 0,
             "ActivationSparsity: expected a finite beta >= 0 but got ", options.beta());
  WISP_CHECK(std::isfinite(options.k_inference_factor()) && options.k_inference_factor() > 0,
             "ActivationSparsity: expected a finite k_inference_factor > 0 but got ", options.k_inference_factor());
  if (options.units()) {
    WISP_CHECK(*options.units() > 0, "ActivationSparsity: expected units > 0 but got ", *options.units());
    create_duty_cycle(*options.units(), Device::cpu());
  }
}

int64_t ActivationSparsity::k(int64_t units) const {
  const int64_t winners = std::llround((1.0 - options_.act_sparsity()) * static_cast<double>(units));
  WISP_CHECK(winners >= 1, "ActivationSparsity: k = round((1 - act_sparsity) * n) = ", winners, " for n = ", units,
             " units and act_sparsity = ", options_.act_sparsity(),
             "; expected at least 1 winner (lower act_sparsity or use more units)");
  return winners;
}

int64_t ActivationSparsity::k_inference(int64_t units) const {
  const double scaled = options_.k_inference_factor() * static_cast<double>(k(units));
  return std::clamp<int64_t>(std::llround(std::min(scaled, static_cast<double>(units))), 1, units);
}

void ActivationSparsity::create_duty_cycle(int64_t units, Device device) {
  // k/n: each unit's fair share of wins, so the initial boost is exp(0) = 1 for every unit.
  const double target_density = static_cast<double>(k(units)) / static_cast<double>(units);
  duty_cycle_ = register_buffer("duty_cycle", full({units}, target_density, device));
}

void ActivationSparsity::check_state(const std::string& prefix, StateLoad& load) {
  const std::string name = prefix + "duty_cycle";
  if (duty_cycle_.defined() || !load.contains(name)) {
    Module::check_state(prefix, load);
    return;
  }
  const Tensor duty_cycle = load.take(name);
  if (duty_cycle.dtype() != DType::Float32 || duty_cycle.dim() != 1 || duty_cycle.numel() < 1) {
    load.fail(detail::concat("dtype or shape mismatch for ", name, ": expected float32 [units] but got ",
                             duty_cycle.dtype(), " ", duty_cycle.shape()));
    return;
  }
  try {
    k(duty_cycle.numel());  // the layer must be able to run with that many units
  } catch (const Error& error) {
    load.fail(error.what());
    return;
  }
  const Tensor copy = duty_cycle.detach().clone();
  // On the file's device (the CPU): a layer without duty cycles has no device yet; to() moves it.
  load.on_apply([this, copy] { duty_cycle_ = register_buffer("duty_cycle", copy); });
}

Tensor ActivationSparsity::forward(const Tensor& input) {
  check_dtype("ActivationSparsity", "input", input, DType::Float32);
  WISP_CHECK(input.dim() >= 1,
             "ActivationSparsity: expected an input with at least one dimension (units last) "
             "but got shape ",
             input.shape());
  const int64_t units = input.size(-1);
  if (!duty_cycle_.defined()) {
    create_duty_cycle(units, input.device());
  } else {
    WISP_CHECK(duty_cycle_.size(0) == units, "ActivationSparsity: expected ", duty_cycle_.size(0),
               " units (the size of its duty cycle) but the input's last dimension is ", units);
  }
  const bool update_duty_cycle = is_training();
  Tensor win_counts;
  const int64_t winners = is_training() ? k(units) : k_inference(units);
  Tensor output = k_winners(input, duty_cycle_, winners, options_.beta(), update_duty_cycle ? &win_counts : nullptr);
  const int64_t samples = input.numel() / units;
  if (update_duty_cycle && samples > 0) update_duty_cycle_(duty_cycle_, win_counts, samples, options_.alpha());
  // relu keeps NaN and passes no gradient at or below 0: a negative winner becomes 0, as a loser.
  return options_.relu() ? wisp::relu(output) : output;
}

std::string ActivationSparsity::extra_repr() const {
  std::ostringstream text;
  text << "act_sparsity=" << options_.act_sparsity() << ", alpha=" << options_.alpha() << ", beta=" << options_.beta();
  if (options_.units()) text << ", units=" << *options_.units();
  if (options_.k_inference_factor() != 1.0) text << ", k_inference_factor=" << options_.k_inference_factor();
  if (options_.relu()) text << ", relu=true";
  return text.str();
}

}  // namespace wisp::nn
