// nn::SparseLinear: y = x Wᵀ + b with a sparse W — only the connections that exist are stored and
// computed (DESIGN.md §6; the seed package's SparseLinear).
//
//   nn::SparseLinear layer(784, 2000);                                        // 90% sparse, random
//   nn::SparseLinear wide(50000, 50000, nn::SparseLinearOptions().sparsity(0.999));
//   nn::SparseLinear user(784, 2000, nn::SparseLinearOptions().connectivity(indices));  // [2, nnz]
//   nn::SparseLinear local(784, 2000, nn::SparseLinearOptions().small_world(true));
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>

#include "wisp/core/arguments.h"
#include "wisp/core/sparse_structure.h"
#include "wisp/layers/module.h"
#include "wisp/layers/rigl.h"

namespace wisp::nn {

// How SparseLinear initialises its weights and bias.
enum class SparseInit {
  // U(-1/√in_features, 1/√in_features), as the seed package and nn::Linear: at high sparsity each
  // output unit sums few inputs, so its activations shrink (by about 31× at 99.9%).
  Uniform,
  // U(-1/√fan_in, 1/√fan_in) with fan_in the connections of that output unit (at least 1), for the
  // weights and the bias of the unit: RigL's unit_scaled_init, with a uniform distribution.
  FanIn,
};
const char* to_string(SparseInit init);  // "uniform", "fan_in"

struct SparseLinearOptions {
  // Fraction of absent connections for random and small-world connectivity, in [0, 1): the layer
  // gets round((1 - sparsity) · in · out) connections (small-world: that many on average). 0 is a
  // fully connected layer (stored sparse; nn::Linear is faster then).
  WISP_ARG(double, sparsity, 0.9);
  WISP_ARG(bool, bias, true);
  // User-defined connections: Int64 [2, nnz], row 0 = output feature, row 1 = input feature.
  // Checked (shape, range, nnz > 0) and coalesced (sorted, duplicates merged); `sparsity` is then
  // ignored. Not combinable with small_world.
  WISP_ARG(Tensor, connectivity, Tensor());
  // Small-world connectivity (layers/connectivity.h): P(connect i, j) = (d_ij + 1)^(-λ).
  WISP_ARG(bool, small_world, false);
  // Seed of the connectivity sampling; by default one number is drawn from the default generator,
  // so manual_seed decides it.
  WISP_ARG(std::optional<uint64_t>, seed, std::nullopt);
  // Dynamic (RigL) connectivity (layers/rigl.h has the policy): every delta_t optimizer steps taken
  // in training mode, until step t_end, drop the fraction alpha/2 · (1 + cos(π t / t_end)) of the
  // connections with the smallest magnitudes and grow as many where the dense gradient is largest.
  // nnz stays constant; the optimizer's momentum moves with each connection (0 for new ones).
  WISP_ARG(bool, dynamic, false);
  // RigL's defaults (layers/rigl.h); the seed package's (6000, 150000, 0.1) hardly ever updated.
  WISP_ARG(int64_t, delta_t, kRiglDefaultDeltaT);
  WISP_ARG(int64_t, t_end, kRiglDefaultTEnd);
  WISP_ARG(double, alpha, kRiglDefaultAlpha);
  // Where a dynamic layer grows: Growth::Gradient is RigL, Growth::Random is SET (layers/rigl.h).
  WISP_ARG(Growth, growth, Growth::Gradient);
  WISP_ARG(SparseInit, init, SparseInit::Uniform);
  // What the kernels read. Float32 (the default) is exact. BFloat16 keeps the float32 weights as the
  // trained parameter (the optimizer and its state unchanged) beside a bfloat16 copy that the
  // forward and grad_input read, refreshed by the optimizer in its own update pass. Inputs, products
  // and sums stay float32. 4 bytes per connection at batch 1 instead of 6 (docs/layers.md has the
  // accuracy and docs/benchmarks.md the speed).
  WISP_ARG(DType, compute_dtype, DType::Float32);
};

// The bfloat16 copy of a reduced-precision SparseLinear's weights, and the update hook
// (core/update_hook.h) through which the optimizer refreshes it in its update pass. Anything else
// that changes the weights (a load, a RigL rearrangement, a move, an in-place op) changes their
// version or device, and the next forward refreshes the copy then. On a dynamic layer it passes
// after_update on to the RiglSchedule. Shared by copies of the layer.
class BFloat16Weights : public TensorUpdateHook {
 public:
  BFloat16Weights(Tensor weights, std::shared_ptr<RiglSchedule> rigl);
  // The copy, refreshed first when the weights changed since it was made.
  const Tensor& current();
  const Tensor* bfloat16_copy() const override;
  void bfloat16_copy_refreshed(const Tensor& tensor) override;
  void after_update(const Tensor& tensor, const std::vector<Tensor>& per_element_state) override;

 private:
  // Whether the copy has the weights' shape and device (it may still hold older values).
  bool fits_weights() const;

  Tensor weights_, copy_;
  uint64_t copied_version_ = 0;
  std::shared_ptr<RiglSchedule> rigl_;
};

// A read-only COO view of a weight of shape [out, in]: indices Int64 [2, nnz] (row 0 = output,
// row 1 = input) and values float32 [nnz]. Printing shows indices, values, size and nnz, like
// torch.sparse_coo_tensor.
//
// SparseLinear::weight() returns a live view of the layer: its values are the layer's `weights`
// parameter itself and its indices are read from the layer's connections at each call (sorted by
// (row, col)), so a view kept across training reflects both the trained values and the
// connections a RigL update moved (which reorders the values with them).
class SparseWeight {
 public:
  // A view of given indices and values (in any order; duplicates add up in to_dense). Throws
  // wisp::Error unless indices is Int64 [2, nnz], values float32 [nnz] on the same device, shape 2-D,
  // and every index within shape, naming the first offending entry.
  SparseWeight(Tensor indices, Tensor values, Shape shape);
  Tensor indices() const;
  const Tensor& values() const { return values_; }
  const Shape& shape() const { return shape_; }
  int64_t nnz() const { return values_.numel(); }
  // The dense [out, in] float32 matrix on the values' device, not recorded on the tape. O(out · in)
  // memory: for small layers and tests only.
  Tensor to_dense() const;

 private:
  friend class SparseLinear;
  // A layer's live view: the layer's CSR tensors (rewritten in place by RigL and moved in place by
  // to(), so these handles stay current).
  SparseWeight(Tensor row_pointers, Tensor column_indices, Tensor values, Shape shape);

  Tensor indices_;                        // given indices, or undefined for a layer's view
  Tensor row_pointers_, column_indices_;  // a layer's view: its CSR connections
  Tensor values_;
  Shape shape_;
};

std::ostream& operator<<(std::ostream& stream, const SparseWeight& weight);

// Parameters: "weights" [nnz] (the values of W in (row, col) order) and "bias" [out_features], both
// initialised from the default generator as the options' init says (by default
// U(-1/√in_features, 1/√in_features), as the seed package does). Buffers: "row_pointers" [out + 1]
// and "column_indices" [nnz], the connectivity in CSR form (Int32 pointers where they fit, uint16
// column indices for at most 65536 inputs: 2 bytes per connection instead of the 16 of an Int64
// [2, nnz] copy; core/sparse_structure.h). The transposed (CSC) order the backward uses is derived
// from them once, at construction, and moved by to(Device) with the rest. Memory: 12 bytes per
// connection (value 4, column 2, CSC row 2, permutation 4) for layers up to 65536 wide, 16 above,
// plus the pointers, against 4 · in · out bytes for a dense layer. A dynamic layer rewrites the structure in place at
// each RigL update (handles stay valid) and, on update steps only, keeps the batch's input and output gradient from the
// backward until the optimizer step. Model files (wisp::save) hold "weights", "indices" and "bias" instead of the CSR
// buffers. Input [..., in_features] (or [in_features]); output [..., out_features].
class SparseLinear : public Module {
 public:
  SparseLinear(int64_t in_features, int64_t out_features, SparseLinearOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "SparseLinear"; }
  // in_features=10, out_features=20, bias=true, sparsity=0.9, connectivity=random,
  // small_world=false, dynamic=false. sparsity is the requested one for random and small-world
  // connectivity, the actual one for user connectivity and connections loaded from a file
  // (connectivity=loaded).
  // A dynamic layer adds delta_t, t_end, alpha and growth (gradient or random); init=fan_in ends
  // the line when that init was chosen.
  std::string extra_repr() const override;
  void to(Device device) override;
  void train(bool on = true) override;
  // Model files hold what the seed package's SparseLinear stores: "weights" [nnz], "indices" Int64
  // [2, nnz] (row 0 = output, row 1 = input, sorted by (row, col)) and "bias" — not the CSR buffers.
  void state_tensors(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const override;
  // A load replaces the connections with the file's (nnz may differ): indices checked (Int64
  // [2, nnz], in range, sorted, no duplicates), the structure rebuilt, and weights, bias and every
  // structure tensor replaced in place, so that copies of the layer, a RigL schedule and weight()
  // views follow (a dynamic layer's RigL step count and statistics are kept).
  void check_state(const std::string& prefix, StateLoad& load) override;
  // Checkpoints (not model files) also hold a dynamic layer's RigL state: "rigl.steps",
  // "rigl.updates", "rigl.skipped", "rigl.moved", "rigl.last_step", "rigl.last_dropped",
  // "rigl.last_moved" (RiglStatistics) and "rigl.seed" (the tie and random-growth seed), restored by
  // a checkpoint's load, and "rigl.delta_t" and "rigl.t_end", which must equal the layer's. Throws
  // while a RigL update waits for its optimizer step (checkpoints are taken between steps).
  void state_counters(const std::string& prefix, std::vector<std::pair<std::string, uint64_t>>& out) const override;

  SparseWeight weight() const;
  const Tensor& weights() const { return weights_; }
  const Tensor& bias() const { return bias_; }  // undefined without bias
  // The connectivity as Int64 [2, nnz] (row 0 = output, row 1 = input), rebuilt from the CSR
  // buffers on each call (O(nnz)), on the layer's device.
  Tensor indices() const;
  const SparseStructure& structure() const { return structure_; }
  int64_t nnz() const { return weights_.numel(); }
  double sparsity() const;  // actual: 1 − nnz / (in · out)
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  // Bytes of the parameters plus the index structure (CSR and CSC).
  size_t memory_bytes() const;
  // Dynamic (RigL) connectivity: whether it is on, and what it has done (all zero when static).
  bool dynamic() const { return rigl_ != nullptr; }
  RiglStatistics rigl_statistics() const;
  // The RigL schedule of a dynamic layer (null when static), shared by copies of the layer.
  const std::shared_ptr<RiglSchedule>& rigl_schedule() const { return rigl_; }
  // Float32, or BFloat16 for the reduced-precision mode (SparseLinearOptions::compute_dtype).
  DType compute_dtype() const { return bfloat16_weights_ ? DType::BFloat16 : DType::Float32; }

 private:
  // Takes the RigL counters of a checkpoint's load and queues their restoration.
  void check_rigl_counters(const std::string& prefix, StateLoad& load);

  int64_t in_features_, out_features_;
  double requested_sparsity_;
  bool small_world_;
  SparseInit init_;
  const char* connectivity_kind_;  // "random", "user", "small-world" or "loaded"
  Tensor weights_, bias_;
  SparseStructure structure_;
  // Shared by shallow copies of the layer (Sequential stores a copy); the update hook of weights_.
  std::shared_ptr<RiglSchedule> rigl_;
  // The reduced-precision mode's copy (null in the exact mode); the update hook of weights_ then.
  std::shared_ptr<BFloat16Weights> bfloat16_weights_;
};

}  // namespace wisp::nn
