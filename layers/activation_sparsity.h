// nn::ActivationSparsity: k-winners-take-all with boosting (DESIGN.md §7), the seed package's
// activation sparsity. Of the seed's defects that research/algorithms.md lists (item 10), three are
// fixed: the duty cycle is a fraction of the batch (the seed summed a count, so boosting collapsed),
// it is a buffer (listed, moved by to()), and inputs may have any number of leading dimensions. The
// other two are options whose defaults keep the seed's (and DESIGN.md §7's) function: relu(true)
// zeroes negative winners (by default winners pass their input unchanged, negative ones included),
// and k_inference_factor(f) lets evaluation keep round(f · k) winners, as Numenta's KWinners (by
// default evaluation keeps the same k as training); see "Evaluation mode" below.
//
//   nn::Sequential model(nn::Flatten(), nn::Linear(784, 2000), nn::LayerNorm(2000),
//                        nn::ActivationSparsity(), nn::Linear(2000, 10));
//
// Per sample (the last dimension holds the n units; every leading dimension counts samples), the
// k = round((1 − act_sparsity) · n) units with the largest boosted input x_i · boost_i win, with
// boost_i = exp(beta · (k/n − duty_i)); ties go to the lower index. The output is the original
// input at the winners and 0 elsewhere, and the gradient flows only through the winners. Boosting
// favours units that have won less often than their share k/n, so that every unit gets used.
//
// Duty cycles: duty_i is the running fraction of samples in which unit i won. After each forward
// in training mode, duty ← (1 − alpha) · duty + alpha · (fraction of the batch's samples in which
// unit i won). They are the buffer "duty_cycle" [n] (listed by named_buffers(), moved by to()), which
// starts at k/n for every unit — the share each unit would have if all won equally often — so the
// first batches rank by the raw input (boost exp(0) = 1) and no unit starts favoured. The
// constructor does not know n: the buffer is created on the first forward, on the input's device,
// unless ActivationSparsityOptions::units(n) creates it at construction.
//
// Evaluation mode (eval()) never updates the duty cycles but still ranks by the boosted input with
// the current duty cycles, as the seed does: with the default k_inference_factor 1 the layer computes
// the same function in training and evaluation, and a model evaluated between epochs sees the
// units it was trained with. With k_inference_factor f, evaluation keeps min(round(f · k), n).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "wisp/core/arguments.h"
#include "wisp/layers/module.h"
#include "wisp/ops/k_winners.h"  // k_winners, the op behind the module

namespace wisp::nn {

struct ActivationSparsityOptions {
  // The fraction of units set to 0 per sample, in [0, 1): k = round((1 − act_sparsity) · n).
  WISP_ARG(double, act_sparsity, 0.65);
  // The rate of the duty cycles' moving average, in (0, 1].
  WISP_ARG(double, alpha, 0.1);
  // The boost strength, ≥ 0 (0: plain top-k, duty cycles ignored).
  WISP_ARG(double, beta, 1.5);
  // The number of units n, when known: the duty cycles are then created at construction (on the
  // CPU; to() moves them) instead of on the first forward.
  WISP_ARG(std::optional<int64_t>, units, std::nullopt);
  // Winners in evaluation mode: min(round(factor · k), n); a finite factor > 0 (Numenta uses 1.5).
  // Default 1: the same k as in training, as the seed.
  WISP_ARG(double, k_inference_factor, 1.0);
  // Zero the winners whose input is negative (their gradient too), as a ReLU after the layer.
  // Default false: winners pass their input unchanged, as the seed.
  WISP_ARG(bool, relu, false);
};

// Buffer: "duty_cycle" float32 [n]. Input float32 [n], [B, n] or [..., n]; output the same shape.
// Not thread-safe (forward updates the duty cycles): one module per thread.
class ActivationSparsity : public Module {
 public:
  explicit ActivationSparsity(ActivationSparsityOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "ActivationSparsity"; }
  // "act_sparsity=0.65, alpha=0.1, beta=1.5", plus ", units=n" when the options give n, and
  // ", k_inference_factor=f" and ", relu=true" when they differ from the defaults.
  std::string extra_repr() const override;

  const ActivationSparsityOptions& options() const { return options_; }
  // The duty cycles [n]; undefined before the first forward (unless options().units() was set).
  const Tensor& duty_cycle() const { return duty_cycle_; }
  // The number of winners per sample for n units in training: round((1 − act_sparsity) · n); throws
  // when it is below 1.
  int64_t k(int64_t units) const;
  // The number in evaluation mode: min(round(k_inference_factor · k(units)), units), at least 1.
  int64_t k_inference(int64_t units) const;
  // A load gives a layer whose duty cycles do not exist yet (no forward so far) the file's
  // "duty_cycle", creating the buffer; otherwise as Module's.
  void check_state(const std::string& prefix, StateLoad& load) override;

 private:
  void create_duty_cycle(int64_t units, Device device);

  ActivationSparsityOptions options_;
  Tensor duty_cycle_;
};

}  // namespace wisp::nn
