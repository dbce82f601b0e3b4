#include "wisp/layers/rigl.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <unordered_set>
#include <utility>
#include <vector>

#include "wisp/autograd/grad_mode.h"
#include "wisp/autograd/tape.h"
#include "wisp/core/factories.h"
#include "wisp/core/random.h"
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

const char* to_string(Growth growth) { return growth == Growth::Random ? "random" : "gradient"; }

namespace {

// The key of random growth's stream, apart from the tie order's hashes of the same seed.
constexpr uint64_t kRandomGrowthStream = 0x534554;  // "SET"

void check_update(const char* op, const Tensor& values, const SparseStructure& structure,
                  const std::vector<Tensor>& companions, int64_t count) {
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
}

// With every position connected, whatever is dropped is all there is to grow: the update regrows
// the same connections with their values and state, so there is nothing to compute.
bool fully_connected(const SparseStructure& structure) {
  return structure.nnz() == structure.out_features * structure.in_features;
}

// Drops the connections marked in `dropped`, adds `grown`, and moves values and companions with
// their connections (0 for new ones).
RiglUpdate rewire(const Tensor& values, const SparseStructure& structure, const Tensor& dropped, const Tensor& grown,
                  const std::vector<Tensor>& companions, int64_t count) {
  const kernels::RewiredConnections rewired = kernels::rewire_connections(structure, dropped, grown);
  kernels::gather_or_zero_(values.detach(), rewired.source);
  for (const Tensor& companion : companions) kernels::gather_or_zero_(companion.detach(), rewired.source);
  kernels::rebuild_sparse_structure_(structure, rewired.indices);
  RiglUpdate update;
  update.dropped = count;
  update.moved = rewired.new_connections;
  return update;
}

// random_absent_positions over CSR arrays of index type Index.
template <class Index>
std::vector<int64_t> draw_absent_positions(const std::vector<Index>& pointers, const std::vector<Index>& columns,
                                           const std::vector<uint8_t>& drop, int64_t out, int64_t in, int64_t count,
                                           uint64_t key) {
  const int64_t cells = out * in;
  int64_t kept = 0;
  for (uint8_t d : drop) kept += d == 0;
  const int64_t free = cells - kept;
  std::vector<int64_t> chosen;
  chosen.reserve(static_cast<size_t>(count));
  uint64_t counter = 0;
  const auto draw = [&](int64_t range) {
    return static_cast<int64_t>(bounded_from_bits(random_bits(key, counter++), static_cast<uint64_t>(range)));
  };
  if (2 * (free - count) >= cells) {
    // At least half the grid stays free after every draw: a draw is accepted with probability >= 1/2.
    const auto is_kept = [&](int64_t position) {
      const int64_t row = position / in, column = position % in;
      const auto begin = columns.begin() + static_cast<int64_t>(pointers[static_cast<size_t>(row)]);
      const auto end = columns.begin() + static_cast<int64_t>(pointers[static_cast<size_t>(row) + 1]);
      const auto found = std::lower_bound(begin, end, static_cast<Index>(column));
      return found != end && static_cast<int64_t>(*found) == column &&
             !drop[static_cast<size_t>(found - columns.begin())];
    };
    std::unordered_set<int64_t> drawn;
    drawn.reserve(static_cast<size_t>(2 * count));
    while (static_cast<int64_t>(chosen.size()) < count) {
      const int64_t position = draw(cells);
      if (!is_kept(position) && drawn.insert(position).second) chosen.push_back(position);
    }
  } else {
    // The grid has fewer than 2 · (kept + count) positions: list the free ones, shuffle a prefix.
    std::vector<int64_t> candidates;
    candidates.reserve(static_cast<size_t>(free));
    for (int64_t row = 0; row < out; ++row) {
      auto k = static_cast<int64_t>(pointers[static_cast<size_t>(row)]);
      const auto end = static_cast<int64_t>(pointers[static_cast<size_t>(row) + 1]);
      for (int64_t column = 0; column < in; ++column) {
        while (k < end && static_cast<int64_t>(columns[static_cast<size_t>(k)]) < column) ++k;
        const bool present = k < end && static_cast<int64_t>(columns[static_cast<size_t>(k)]) == column;
        if (!present || drop[static_cast<size_t>(k)]) candidates.push_back(row * in + column);
      }
    }
    for (int64_t j = 0; j < count; ++j)
      std::swap(candidates[static_cast<size_t>(j)], candidates[static_cast<size_t>(j + draw(free - j))]);
    chosen.assign(candidates.begin(), candidates.begin() + count);
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace

Tensor random_absent_positions(const SparseStructure& structure, const Tensor& dropped, int64_t count, uint64_t seed) {
  constexpr const char* op = "random_absent_positions";
  WISP_CHECK(structure.defined(), op, ": the sparse structure is empty");
  check_dtype(op, "dropped", dropped, DType::UInt8);
  WISP_CHECK(dropped.shape() == Shape{structure.nnz()}, op, ": expected dropped of shape ", Shape{structure.nnz()},
             " (one per connection) but got ", dropped.shape());
  const std::vector<uint8_t> drop = dropped.to_vector<uint8_t>();
  int64_t kept = 0;
  for (uint8_t d : drop) kept += d == 0;
  const int64_t out = structure.out_features, in = structure.in_features, free = out * in - kept;
  WISP_CHECK(count >= 0 && count <= free, op, ": expected a count in [0, ", free, "] (the positions not kept) but got ",
             count);
  const uint64_t key = kernels::rigl_tie_rank(kRandomGrowthStream, seed);
  std::vector<int64_t> positions;
  positions =
      draw_absent_positions(structure.row_pointers.to(DType::Int64).to_vector<int64_t>(),
                            structure.column_indices.to(DType::Int64).to_vector<int64_t>(), drop, out, in, count, key);
  const Tensor host = from_vector(positions, Shape{count});
  return structure.device().is_cpu() ? host : copy_to_device(host, structure.device());
}

RiglUpdate rigl_update(const Tensor& values, const SparseStructure& structure, const Tensor& grad_output,
                       const Tensor& input, int64_t count, const std::vector<Tensor>& companions, uint64_t tie_seed,
                       int64_t tile_elements) {
  check_update("rigl_update", values, structure, companions, count);
  NoGradGuard no_grad;
  RiglUpdate update;
  update.dropped = count;
  if (count == 0 || fully_connected(structure)) return update;
  const Tensor dropped = kernels::smallest_magnitude_mask(values.detach(), count, tie_seed);
  const Tensor grown =
      kernels::largest_absent_gradients(grad_output, input, structure, dropped, count, tie_seed, tile_elements);
  return rewire(values, structure, dropped, grown, companions, count);
}

RiglUpdate set_update(const Tensor& values, const SparseStructure& structure, int64_t count,
                      const std::vector<Tensor>& companions, uint64_t seed) {
  check_update("set_update", values, structure, companions, count);
  NoGradGuard no_grad;
  RiglUpdate update;
  update.dropped = count;
  if (count == 0 || fully_connected(structure)) return update;
  const Tensor dropped = kernels::smallest_magnitude_mask(values.detach(), count, seed);
  const Tensor grown = random_absent_positions(structure, dropped, count, seed);
  return rewire(values, structure, dropped, grown, companions, count);
}

RiglSchedule::RiglSchedule(Tensor weights, SparseStructure structure, int64_t delta_t, int64_t t_end, double alpha,
                           uint64_t tie_seed, Growth growth)
    : weights_(std::move(weights)),
      structure_(std::move(structure)),
      delta_t_(delta_t),
      t_end_(t_end),
      alpha_(alpha),
      tie_seed_(tie_seed),
      growth_(growth) {}

void RiglSchedule::restore(const RiglStatistics& statistics, uint64_t tie_seed) {
  statistics_ = statistics;
  tie_seed_ = tie_seed;
  captured_.clear();
}

bool RiglSchedule::next_step_grows_by_gradient() const {
  return growth_ == Growth::Gradient && training_ && rigl_updates_at(statistics_.steps + 1, delta_t_, t_end_);
}

std::pair<Tensor, Tensor> RiglSchedule::captured_batch() const {
  const TensorOptions options = TensorOptions(DType::Float32).device(weights_.device());
  if (captured_.empty())
    return {zeros({0, structure_.in_features}, options), zeros({0, structure_.out_features}, options)};
  if (captured_.size() == 1) return {captured_[0].input, captured_[0].grad_output};
  std::vector<Tensor> inputs, gradients;
  for (const Capture& capture : captured_) {
    inputs.push_back(capture.input);
    gradients.push_back(capture.grad_output);
  }
  NoGradGuard no_grad;
  return {cat(inputs, 0), cat(gradients, 0)};
}

void RiglSchedule::replace_captured_batch(Tensor input, Tensor grad_output) {
  WISP_CHECK(input.dtype() == DType::Float32 && grad_output.dtype() == DType::Float32 && input.dim() == 2 &&
                 grad_output.dim() == 2 && input.size(0) == grad_output.size(0) &&
                 input.size(1) == structure_.in_features && grad_output.size(1) == structure_.out_features,
             "RiglSchedule::replace_captured_batch: expected float32 input [rows, ", structure_.in_features,
             "] and output gradient [rows, ", structure_.out_features, "] but got ", input.dtype(), " ", input.shape(),
             " and ", grad_output.dtype(), " ", grad_output.shape());
  captured_.clear();
  captured_.push_back({std::move(input), std::move(grad_output)});
}

Tensor RiglSchedule::tap(const Tensor& input, const Tensor& output) {
  if (growth_ == Growth::Random || !training_ || !GradMode::is_enabled() || !weights_.requires_grad() ||
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
  std::vector<Tensor> companions = per_element_state;
  if (weights.grad().defined()) companions.push_back(weights.grad());
  const auto count = static_cast<int64_t>(
      std::floor(rigl_drop_fraction(step, alpha_, t_end_) * static_cast<double>(structure_.nnz())));
  // A new tie order (and random stream) at each update, reproducible from the layer's seed.
  const uint64_t step_seed = kernels::rigl_tie_rank(step, tie_seed_);
  RiglUpdate update;
  if (growth_ == Growth::Random) {
    update = set_update(weights_, structure_, count, companions, step_seed);
  } else {
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
    update = rigl_update(weights_, structure_, grad_output, input, count, companions, step_seed);
  }
  update.step = step;
  ++statistics_.updates;
  statistics_.moved += update.moved;
  statistics_.last = update;
}

}  // namespace wisp::nn
