// RigL (Evci et al., "Rigging the Lottery", 2020): dynamic sparse connectivity for SparseLinear.
// nn::SparseLinear runs it when built with SparseLinearOptions().dynamic(true); the pieces are
// public so that users can drive their own sparse layers and tests can check each one.
//
// The policy (DESIGN.md §6; research/algorithms.md has the reference code's details):
// * Time is counted in optimizer steps that updated the layer's weights (they had a gradient) while
//   the layer was in training mode: the weights carry an update hook (core/update_hook.h), a
//   RiglSchedule, that optimizers call after each step of a parameter with a gradient.
//   Forward calls, evaluation and steps in eval() mode never count.
// * Step t (1, 2, ...) updates the connections when t is a multiple of delta_t and t ≤ t_end,
//   after the optimizer has applied that step's update (the reference code skips the optimizer
//   step on update iterations instead; applying it keeps one code path and every step's gradient).
// * An update at step t drops the ⌊f(t) · nnz⌋ connections of smallest magnitude, with the cosine
//   decay f(t) = alpha/2 · (1 + cos(π · t / t_end)), and grows as many where the magnitude of the
//   dense gradient |∂L/∂W| = |Σ_rows g[r, o] · x[r, i]| of that step's batch (every forward with a
//   backward since the previous step) is largest among the connections not kept — the just-dropped
//   ones compete too. Equal magnitudes are ordered by kernels::rigl_tie_rank, a hash of the index
//   (drop) or position o · in + i (grow) and a seed that changes with each update: reproducible, and
//   spread over the layer instead of piling into its first rows.
// * New connections start at 0 and so does the optimizer's state for them (SGD's momentum); a
//   connection that is dropped and grown again in the same update keeps its value and its state, as
//   in the reference code. Kept connections keep theirs, moved to their new position: values, the
//   optimizer's state and the current gradient are permuted together, in place, so that the
//   optimizer keeps updating the live tensors (the seed package's bug was to replace them). nnz is
//   constant.
// * The dense gradient is never materialised: tiles of it are computed by GEMM and a running top-k
//   keeps the candidates (kernels/rigl.h), so a 50000 × 50000 layer needs O(tile + nnz) memory.
//
// SET (Mocanu et al., "Scalable training of artificial neural networks with adaptive sparse
// connectivity", 2018) is the same policy with another growth: Growth::Random grows the dropped
// count uniformly at random among the positions not kept (just-dropped ones included, as in SET's
// reference code, where a removed weight is 0 and may be drawn again). It needs no gradient, so a
// SET layer never keeps a batch. Its draws are keyed by (the layer's seed, the update's step).
// A fully connected layer (nothing absent) regrows exactly what it dropped: its updates change
// nothing, and both growths return at once without computing anything.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "wisp/core/sparse_structure.h"
#include "wisp/core/tensor.h"

namespace wisp::nn {

// Defaults, as the RigL paper: update every 100 steps, drop fraction 0.3 decayed by a cosine.
// t_end (the step after which connections freeze) depends on the run: the paper stops at 75% of
// training; the default 15000 is about 80% of the notebook's 20 MNIST epochs at batch 64 (18740
// steps), and mnist_train sets it to 75% of the run's length (14055 for the notebook's run).
constexpr int64_t kRiglDefaultDeltaT = 100;
constexpr int64_t kRiglDefaultTEnd = 15000;
constexpr double kRiglDefaultAlpha = 0.3;

// Where a dynamic layer grows the connections it dropped.
enum class Growth {
  Gradient,  // RigL: the largest magnitudes of the dense gradient
  Random,    // SET: uniformly at random among the positions not kept
};
const char* to_string(Growth growth);  // "gradient", "random"

// f(t) = alpha/2 · (1 + cos(π · min(t, t_end) / t_end)); 0 when t_end is 0.
double rigl_drop_fraction(int64_t step, double alpha, int64_t t_end);
// Whether optimizer step `step` (counted from 1) updates the connections: step % delta_t == 0 and
// step <= t_end.
bool rigl_updates_at(int64_t step, int64_t delta_t, int64_t t_end);

// What one update did.
struct RiglUpdate {
  int64_t step = 0;     // the optimizer step it ran at (0 when called directly)
  int64_t dropped = 0;  // connections dropped, and as many grown
  int64_t moved = 0;    // grown at positions that had no connection before (dropped − moved were regrown)
};

// One RigL update of the sparse weight (values [nnz], structure), in place: drops `count`
// connections and grows `count` (see above), with grad_output [rows, out] and input [rows, in] the
// batch (float32, batch-major) that defines the dense gradient. `companions` are tensors [nnz]
// permuted with the values (the optimizer's state, the gradient): kept and regrown entries move
// with their connection, new ones are 0. tie_seed: see kernels::rigl_tie_rank; tile_elements: see
// kernels::largest_absent_gradients.
RiglUpdate rigl_update(const Tensor& values, const SparseStructure& structure, const Tensor& grad_output,
                       const Tensor& input, int64_t count, const std::vector<Tensor>& companions = {},
                       uint64_t tie_seed = 0, int64_t tile_elements = 0);

// The `count` positions (o · in + i) drawn uniformly without replacement among those not held by a
// staying connection of `structure` (dropped: UInt8 [nnz], 1 at the connections that go, as
// kernels::smallest_magnitude_mask returns), as Int64 [count] in increasing order on the
// structure's device. count ≤ in · out − (connections that stay). The draws are the counter-based
// stream keyed by `seed` (core/random.h): the same structure, mask, count and seed give the same
// positions in every process and at every thread count.
// Work: O(nnz + count) expected, on the host (a device structure makes a round trip). When the
// positions not kept are at least half the grid, candidates are drawn from the whole grid and
// rejected if kept (binary search in the CSR row) or already drawn (a hash set): each draw
// succeeds with probability ≥ 1/2. Otherwise the grid has at most 2 · (kept + count) positions and
// the free ones are listed and sampled by a partial Fisher–Yates shuffle. Never a dense mask.
Tensor random_absent_positions(const SparseStructure& structure, const Tensor& dropped, int64_t count, uint64_t seed);

// One SET update: drops like rigl_update, grows `count` at random_absent_positions(…, seed), and
// rewires values and companions like rigl_update (new connections 0, regrown ones keep theirs).
// `seed` also orders equal magnitudes in the drop (kernels::rigl_tie_rank).
RiglUpdate set_update(const Tensor& values, const SparseStructure& structure, int64_t count,
                      const std::vector<Tensor>& companions = {}, uint64_t seed = 0);

// What a RiglSchedule has done so far.
struct RiglStatistics {
  int64_t steps = 0;    // optimizer steps counted (taken in training mode)
  int64_t updates = 0;  // connection updates run
  int64_t skipped = 0;  // update steps without a gradient of the layer's output to grow by
  int64_t moved = 0;    // connections grown where there was none, summed over all updates
  RiglUpdate last;      // the latest update
};

// Runs RigL for one sparse layer (nn::SparseLinear owns one when dynamic): the policy above, with
// the layer's weights (values [nnz]) and structure, which it rewrites in place. It is the weights'
// update hook (set it with weights.set_update_hook), so optimizers tell it about every step; the
// layer tells it about train()/eval() and passes each forward's output through tap(). On the
// forward of a step that will update, tap() puts a node on the tape whose backward hands the output
// gradient, with the input, back here: the batch that defines the dense gradient. Create it with
// std::make_shared: the tap refers back to it weakly. Not thread-safe, like the layer.
class RiglSchedule : public TensorUpdateHook, public std::enable_shared_from_this<RiglSchedule> {
 public:
  // tie_seed: the seed of the tie order (kernels::rigl_tie_rank) and of random growth, combined
  // with each update's step.
  RiglSchedule(Tensor weights, SparseStructure structure, int64_t delta_t, int64_t t_end, double alpha,
               uint64_t tie_seed, Growth growth = Growth::Gradient);

  void set_training(bool on) { training_ = on; }
  const RiglStatistics& statistics() const { return statistics_; }
  int64_t delta_t() const { return delta_t_; }
  int64_t t_end() const { return t_end_; }
  double alpha() const { return alpha_; }
  Growth growth() const { return growth_; }
  // The seed of the tie order and of random growth (with statistics(), what a checkpoint restores).
  uint64_t tie_seed() const { return tie_seed_; }
  // Whether batches captured for the next update wait for the optimizer step (a backward ran since
  // the previous step on an update step): state a checkpoint cannot hold, so it is saved between steps.
  bool pending() const { return !captured_.empty(); }
  // Continues from a checkpoint: the counters and the seed, with no batch captured.
  void restore(const RiglStatistics& statistics, uint64_t tie_seed);

  // Data parallelism (distributed::DataParallel) makes every process grow from the global batch:
  // whether the next optimizer step grows by gradient (and so reads the captured batches; the same
  // answer on every process, which have taken the same steps), the captured batches as one input
  // [rows, in] and output gradient [rows, out] on the weights' device (rows 0 when nothing was
  // captured), and their replacement by another batch, e.g. the rows of every process.
  bool next_step_grows_by_gradient() const;
  std::pair<Tensor, Tensor> captured_batch() const;
  // Throws wisp::Error unless input is [rows, in] and grad_output [rows, out] float32.
  void replace_captured_batch(Tensor input, Tensor grad_output);

  // The layer's forward output: passed through a tap (the node "RiglGradientTap") when the next
  // optimizer step updates the connections by gradient and a backward can reach the weights;
  // `output` itself otherwise (always for Growth::Random). input [..., in], output [..., out].
  Tensor tap(const Tensor& input, const Tensor& output);

  // Counts the step (in training mode) and, on an update step, runs rigl_update with the batches
  // captured since the previous step (Growth::Random: set_update), permuting `per_element_state`
  // and the weights' gradient with the values.
  void after_update(const Tensor& weights, const std::vector<Tensor>& per_element_state) override;

 private:
  struct Capture {
    Tensor input;        // [rows, in]
    Tensor grad_output;  // [rows, out]
  };

  Tensor weights_;
  SparseStructure structure_;
  int64_t delta_t_, t_end_;
  double alpha_;
  uint64_t tie_seed_;
  Growth growth_;
  bool training_ = true;
  RiglStatistics statistics_;
  std::vector<Capture> captured_;
};

}  // namespace wisp::nn
