#include "wisp/layers/rigl.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "wisp/autograd/grad_mode.h"
#include "wisp/autograd/tape.h"
#include "wisp/kernels/rigl.h"
#include "wisp/ops/functional.h"

namespace wisp::nn {

double rigl_drop_fraction(int64_t step, double alpha, int64_t t_end) {
  if (t_end <= 0) return 0.0;
  const double progress = static_cast<double>(std::min(step, t_end)) / static_cast<double>(t_end);
  return alpha / 2.0 * (1.0 + std::cos(M_PI * progress));
}

bool rigl_updates_at(int64_t step, int64_t delta_t, int64_t t_end) {
  return delta_t > 0 && step > 0 && step % delta_t == 0 && step <= t_end;
}

RiglUpdate rigl_update(const Tensor& values, const SparseStructure& structure, const Tensor& grad_output,
                       const Tensor& input, int64_t count, const std::vector<Tensor>& companions, uint64_t tie_seed,
                       int64_t tile_elements) {
  constexpr const char* op = "rigl_update";
  WISP_CHECK(structure.defined(), op, ": the sparse structure is empty");
  check_dtype(op, "values", values, DType::Float32);
  WISP_CHECK(values.shape() == Shape{structure.nnz()}, op, ": expected values of shape ", Shape{structure.nnz()},
             " but got ", values.shape());
  for (const Tensor& companion : companions) {
    check_dtype(op, "companion", companion, DType::Float32);
    WISP_CHECK(companion.shape() == values.shape(), op, ": expected every companion tensor of shape ", values.shape(),
               " (one entry per connection) but got ", companion.shape());
    check_same_device(op, values, companion);
  }
  WISP_CHECK(count >= 0 && count <= structure.nnz(), op, ": expected a count in [0, ", structure.nnz(), "] but got ",
             count);
  NoGradGuard no_grad;
  RiglUpdate update;
  update.dropped = count;
  if (count == 0) return update;

  const Tensor dropped = kernels::smallest_magnitude_mask(values.detach(), count, tie_seed);
  const Tensor grown =
      kernels::largest_absent_gradients(grad_output, input, structure, dropped, count, tie_seed, tile_elements);
  const kernels::RewiredConnections rewired = kernels::rewire_connections(structure, dropped, grown);
  update.moved = rewired.new_connections;

  kernels::gather_or_zero_(values.detach(), rewired.source);
  for (const Tensor& companion : companions) kernels::gather_or_zero_(companion.detach(), rewired.source);
  kernels::rebuild_sparse_structure_(structure, rewired.indices);
  return update;
}

RiglSchedule::RiglSchedule(Tensor weights, SparseStructure structure, int64_t delta_t, int64_t t_end, double alpha,
                           uint64_t tie_seed)
    : weights_(std::move(weights)),
      structure_(std::move(structure)),
      delta_t_(delta_t),
      t_end_(t_end),
      alpha_(alpha),
      tie_seed_(tie_seed) {}

Tensor RiglSchedule::tap(const Tensor& input, const Tensor& output) {
  if (!training_ || !GradMode::is_enabled() || !weights_.requires_grad() ||
      !rigl_updates_at(statistics_.steps + 1, delta_t_, t_end_))
    return output;
  const int64_t in = input.size(-1), out = output.size(-1);
  const Tensor batch_input = input.detach().view({-1, in});
  const std::weak_ptr<RiglSchedule> schedule = weak_from_this();
  return autograd::record("RiglGradientTap", output.detach(), {output},
                          [schedule, batch_input, out](const Tensor& gradient) -> std::vector<Tensor> {
                            if (const auto alive = schedule.lock())
                              alive->captured_.push_back({batch_input, gradient.detach().view({-1, out})});
                            return {gradient};
                          });
}

void RiglSchedule::after_update(const Tensor& weights, const std::vector<Tensor>& per_element_state) {
  std::vector<Capture> captured = std::move(captured_);
  captured_.clear();
  if (!training_) return;  // evaluation never counts
  const int64_t step = ++statistics_.steps;
  if (!rigl_updates_at(step, delta_t_, t_end_)) return;
  int64_t captured_rows = 0;
  for (const Capture& capture : captured) captured_rows += capture.input.size(0);
  // No backward through this layer's output since the previous step, or only through empty
  // batches: no gradient to grow by (growing would pick arbitrary positions).
  if (captured_rows == 0) {
    ++statistics_.skipped;
    return;
  }
  NoGradGuard no_grad;
  std::vector<Tensor> inputs, gradients;
  for (const Capture& capture : captured) {
    inputs.push_back(capture.input);
    gradients.push_back(capture.grad_output);
  }
  const Tensor input = inputs.size() == 1 ? inputs[0] : cat(inputs, 0);
  const Tensor grad_output = gradients.size() == 1 ? gradients[0] : cat(gradients, 0);
  std::vector<Tensor> companions = per_element_state;
  if (weights.grad().defined()) companions.push_back(weights.grad());
  const auto count = static_cast<int64_t>(
      std::floor(rigl_drop_fraction(step, alpha_, t_end_) * static_cast<double>(structure_.nnz())));
  // A new tie order at each update, reproducible from the layer's seed.
  const uint64_t step_tie_seed = kernels::rigl_tie_rank(step, tie_seed_);
  RiglUpdate update = rigl_update(weights_, structure_, grad_output, input, count, companions, step_tie_seed);
  update.step = step;
  ++statistics_.updates;
  statistics_.moved += update.moved;
  statistics_.last = update;
}

}  // namespace wisp::nn
