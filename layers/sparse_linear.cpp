#include "wisp/layers/sparse_linear.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "wisp/autograd/grad_mode.h"
#include "wisp/core/factories.h"
#include "wisp/core/random.h"
#include "wisp/kernels/rigl.h"
#include "wisp/kernels/sparse_linear.h"
#include "wisp/layers/connectivity.h"
#include "wisp/ops/functional.h"
#include "wisp/ops/sparse_linear.h"

namespace wisp::nn {
namespace {

// `text` with every line after the first indented by `width` spaces (to nest a multi-line tensor
// printout after a label).
std::string indent_continuation(const std::string& text, size_t width) {
  std::string result;
  for (char c : text) {
    result += c;
    if (c == '\n') result.append(width, ' ');
  }
  return result;
}

template <class T>
std::string printed(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

// ---- SparseWeight ----------------------------------------------------------------------------------

namespace {

// Int64 [2, nnz] COO indices, sorted by (row, col), of the CSR connections of an `out`-row matrix.
Tensor coo_indices(const Tensor& row_pointers, const Tensor& column_indices, int64_t out) {
  const int64_t nnz = column_indices.numel();
  std::vector<int64_t> index(static_cast<size_t>(2 * nnz));
  // Whatever the stored widths (column indices may be 16-bit), the view is Int64.
  const std::vector<int64_t> pointers = row_pointers.to(DType::Int64).to_vector<int64_t>();
  const std::vector<int64_t> columns = column_indices.to(DType::Int64).to_vector<int64_t>();
  for (int64_t row = 0; row < out; ++row)
    for (int64_t k = pointers[static_cast<size_t>(row)]; k < pointers[static_cast<size_t>(row) + 1]; ++k) {
      index[static_cast<size_t>(k)] = row;
      index[static_cast<size_t>(nnz + k)] = columns[static_cast<size_t>(k)];
    }
  return from_vector(index, {2, nnz}, column_indices.device());
}

}  // namespace

SparseWeight::SparseWeight(Tensor indices, Tensor values, Shape shape)
    : indices_(std::move(indices)), values_(std::move(values)), shape_(std::move(shape)) {
  constexpr const char* op = "SparseWeight";
  check_dtype(op, "values", values_, DType::Float32);
  WISP_CHECK(values_.dim() == 1, op, ": expected 1-D values [nnz] but got shape ", values_.shape());
  const int64_t nnz = values_.numel();
  check_operand(op, "indices", indices_, DType::Int64, {2, nnz});
  check_same_device(op, values_, indices_);
  WISP_CHECK(shape_.size() == 2, op, ": expected a 2-D shape [out, in] but got ", shape_);
  const std::vector<int64_t> index = indices_.to_vector<int64_t>();
  for (int64_t k = 0; k < nnz; ++k) {
    const int64_t row = index[static_cast<size_t>(k)], column = index[static_cast<size_t>(nnz + k)];
    WISP_CHECK(row >= 0 && row < shape_[0] && column >= 0 && column < shape_[1], op, ": index (", row, ", ", column,
               ") of nonzero ", k, " is outside the shape ", shape_);
  }
}

SparseWeight::SparseWeight(Tensor row_pointers, Tensor column_indices, Tensor values, Shape shape)
    : row_pointers_(std::move(row_pointers)),
      column_indices_(std::move(column_indices)),
      values_(std::move(values)),
      shape_(std::move(shape)) {}

Tensor SparseWeight::indices() const {
  return indices_.defined() ? indices_ : coo_indices(row_pointers_, column_indices_, shape_[0]);
}

Tensor SparseWeight::to_dense() const {
  const int64_t out = shape_[0], in = shape_[1], nnz = values_.numel();
  const std::vector<int64_t> index = indices().to_vector<int64_t>();
  const std::vector<float> value = values_.to_vector<float>();
  std::vector<float> dense(static_cast<size_t>(out * in), 0.0f);
  for (int64_t k = 0; k < nnz; ++k) dense[static_cast<size_t>(index[k] * in + index[nnz + k])] += value[k];
  return from_vector(dense, shape_, values_.device());
}

std::ostream& operator<<(std::ostream& stream, const SparseWeight& weight) {
  const std::string indices_label = "SparseWeight(indices=", values_label = "values=";
  const size_t indent = std::string("SparseWeight(").size();
  stream << indices_label << indent_continuation(printed(weight.indices()), indices_label.size()) << ",\n"
         << std::string(indent, ' ') << values_label
         << indent_continuation(printed(weight.values().detach()), indent + values_label.size()) << ",\n"
         << std::string(indent, ' ') << "size=" << weight.shape() << ", nnz=" << weight.nnz() << ")";
  return stream;
}

// ---- SparseLinear ----------------------------------------------------------------------------------

const char* to_string(SparseInit init) { return init == SparseInit::FanIn ? "fan_in" : "uniform"; }

SparseLinear::SparseLinear(int64_t in_features, int64_t out_features, SparseLinearOptions options)
    : in_features_(in_features),
      out_features_(out_features),
      requested_sparsity_(options.sparsity()),
      small_world_(options.small_world()),
      init_(options.init()) {
  WISP_CHECK(in_features > 0 && out_features > 0,
             "SparseLinear: expected positive in_features and out_features but got ", in_features, " and ",
             out_features);
  if (options.dynamic()) {
    WISP_CHECK(options.delta_t() >= 1,
               "SparseLinear: expected delta_t >= 1 (optimizer steps between RigL updates) "
               "but got ",
               options.delta_t());
    WISP_CHECK(options.t_end() >= 0, "SparseLinear: expected t_end >= 0 (the last step that may update) but got ",
               options.t_end());
    WISP_CHECK(options.alpha() >= 0.0 && options.alpha() <= 1.0,
               "SparseLinear: expected alpha (the initial drop fraction) in [0, 1] but got ", options.alpha());
  }
  const bool user = options.connectivity().defined();
  WISP_CHECK(!(user && options.small_world()),
             "SparseLinear: expected either a user connectivity or small_world(true), not both");
  if (!user) {
    WISP_CHECK(options.sparsity() >= 0.0 && options.sparsity() < 1.0,
               "SparseLinear: expected sparsity in [0, 1) but got ", options.sparsity());
  }

  // The connectivity, sorted by (row, col) without duplicates. Sampling is keyed by one seed, drawn
  // from the default generator unless given, so manual_seed decides the layer.
  Tensor indices;
  if (user) {
    indices = coalesce_connectivity(options.connectivity(), in_features, out_features);
    connectivity_kind_ = "user";
  } else {
    const uint64_t seed = options.seed() ? *options.seed() : default_generator().next_u64();
    if (options.small_world()) {
      indices = small_world_connectivity(in_features, out_features, options.sparsity(), seed);
      connectivity_kind_ = "small-world";
    } else {
      const int64_t nnz = connections_for_sparsity(in_features, out_features, options.sparsity());
      indices = random_connectivity(in_features, out_features, nnz, seed);
      connectivity_kind_ = "random";
    }
  }
  structure_ = kernels::make_sparse_structure(indices, out_features, in_features);
  register_buffer("row_pointers", structure_.row_pointers);
  register_buffer("column_indices", structure_.column_indices);

  // U(-bound, bound) with bound = 1/√in_features, as the seed package (and nn::Linear) do, or one
  // bound per output unit from its fan-in. Either way the same draws: manual_seed decides both alike.
  NoGradGuard no_grad;
  const Tensor weight_draws = rand({structure_.nnz()});  // U(0, 1), mapped to U(-bound, bound) below
  const Tensor bias_draws = options.bias() ? rand({out_features}) : Tensor();
  if (init_ == SparseInit::FanIn) {
    const std::vector<int64_t> pointers = structure_.row_pointers.to(DType::Int64).to_vector<int64_t>();
    std::vector<float> row_bound(static_cast<size_t>(out_features));
    std::vector<float> weight_bound(static_cast<size_t>(structure_.nnz()));
    for (int64_t row = 0; row < out_features; ++row) {
      const int64_t fan_in = pointers[static_cast<size_t>(row) + 1] - pointers[static_cast<size_t>(row)];
      const auto bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(fan_in, 1))));
      row_bound[static_cast<size_t>(row)] = bound;
      for (int64_t k = pointers[static_cast<size_t>(row)]; k < pointers[static_cast<size_t>(row) + 1]; ++k)
        weight_bound[static_cast<size_t>(k)] = bound;
    }
    const Tensor weight_bounds = from_vector(weight_bound, Shape{structure_.nnz()});
    const Tensor bias_bounds = from_vector(row_bound, Shape{out_features});
    weights_ = register_parameter("weights", weight_draws * (weight_bounds * 2.0) - weight_bounds);
    if (options.bias()) bias_ = register_parameter("bias", bias_draws * (bias_bounds * 2.0) - bias_bounds);
  } else {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    weights_ = register_parameter("weights", weight_draws * (2 * bound) - bound);
    if (options.bias()) bias_ = register_parameter("bias", bias_draws * (2 * bound) - bound);
  }

  if (options.dynamic()) {
    // The seed of RigL's tie order: from the options' seed when given, else from the default
    // generator (drawn last, so static layers' draws are unchanged).
    const uint64_t rigl_seed =
        options.seed() ? kernels::rigl_tie_rank(0x5249474c, *options.seed()) : default_generator().next_u64();
    rigl_ = std::make_shared<RiglSchedule>(weights_, structure_, options.delta_t(), options.t_end(), options.alpha(),
                                           rigl_seed, options.growth());
    weights_.set_update_hook(rigl_);
  }
  WISP_CHECK(options.compute_dtype() == DType::Float32 || options.compute_dtype() == DType::BFloat16,
             "SparseLinear: expected compute_dtype float32 or bfloat16 but got ", options.compute_dtype());
  if (options.compute_dtype() == DType::BFloat16) {
    bfloat16_weights_ = std::make_shared<BFloat16Weights>(weights_, rigl_);
    weights_.set_update_hook(bfloat16_weights_);
  }
}

BFloat16Weights::BFloat16Weights(Tensor weights, std::shared_ptr<RiglSchedule> rigl)
    : weights_(std::move(weights)), rigl_(std::move(rigl)) {}

bool BFloat16Weights::fits_weights() const {
  return copy_.defined() && copy_.shape() == weights_.shape() && copy_.device() == weights_.device();
}

const Tensor& BFloat16Weights::current() {
  if (!fits_weights() || copied_version_ != weights_.version()) {
    NoGradGuard no_grad;
    copy_ = weights_.detach().to(DType::BFloat16);
    copied_version_ = weights_.version();
  }
  return copy_;
}

const Tensor* BFloat16Weights::bfloat16_copy() const {
  // Only a copy of the weights' current shape and device can be refreshed in place; otherwise the
  // next forward makes a new one.
  return fits_weights() ? &copy_ : nullptr;
}

void BFloat16Weights::bfloat16_copy_refreshed(const Tensor& tensor) { copied_version_ = tensor.version(); }

void BFloat16Weights::after_update(const Tensor& tensor, const std::vector<Tensor>& per_element_state) {
  if (rigl_) rigl_->after_update(tensor, per_element_state);  // changes the version when it rewires
}

Tensor SparseLinear::forward(const Tensor& input) {
  WISP_CHECK(input.defined() && input.dim() >= 1 && input.size(-1) == in_features_,
             "SparseLinear: expected input of shape [..., ", in_features_, "] (in_features=", in_features_,
             ") but got ", input.defined() ? printed(input.shape()) : std::string("an undefined tensor"));
  const Tensor output = bfloat16_weights_
                            ? sparse_linear(input, weights_, bfloat16_weights_->current(), structure_, bias_)
                            : sparse_linear(input, weights_, structure_, bias_);
  return rigl_ ? rigl_->tap(input, output) : output;
}

void SparseLinear::train(bool on) {
  Module::train(on);
  if (rigl_) rigl_->set_training(on);
}

RiglStatistics SparseLinear::rigl_statistics() const { return rigl_ ? rigl_->statistics() : RiglStatistics(); }

void SparseLinear::to(Device device) {
  Module::to(device);  // parameters and the CSR buffers, in place (structure_ shares those handles)
  // The CSC tensors are not buffers (derived, nothing to save) but are shared like them by every copy
  // of this layer (one copied into a Sequential) and by RigL: moved in place too, so that all of them
  // keep one structure on one device.
  for (const Tensor* csc : {&structure_.column_pointers, &structure_.row_indices, &structure_.csc_to_value})
    move_tensor_to_(*csc, device);
}

Tensor SparseLinear::indices() const {
  return coo_indices(structure_.row_pointers, structure_.column_indices, out_features_);
}

void SparseLinear::state_tensors(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const {
  out.emplace_back(prefix + "weights", weights_);
  out.emplace_back(prefix + "indices", indices());
  if (bias_.defined()) out.emplace_back(prefix + "bias", bias_);
}

void SparseLinear::state_counters(const std::string& prefix, std::vector<std::pair<std::string, uint64_t>>& out) const {
  if (!rigl_) return;
  WISP_CHECK(!rigl_->pending(), "SparseLinear ", prefix,
             ": a RigL update waits for the optimizer step (a backward ran since the last step); save "
             "between optimizer steps");
  const RiglStatistics& statistics = rigl_->statistics();
  const auto count = [](int64_t value) { return static_cast<uint64_t>(value); };  // never negative
  out.emplace_back(prefix + "rigl.steps", count(statistics.steps));
  out.emplace_back(prefix + "rigl.updates", count(statistics.updates));
  out.emplace_back(prefix + "rigl.skipped", count(statistics.skipped));
  out.emplace_back(prefix + "rigl.moved", count(statistics.moved));
  out.emplace_back(prefix + "rigl.last_step", count(statistics.last.step));
  out.emplace_back(prefix + "rigl.last_dropped", count(statistics.last.dropped));
  out.emplace_back(prefix + "rigl.last_moved", count(statistics.last.moved));
  out.emplace_back(prefix + "rigl.seed", rigl_->tie_seed());
  out.emplace_back(prefix + "rigl.delta_t", count(rigl_->delta_t()));
  out.emplace_back(prefix + "rigl.t_end", count(rigl_->t_end()));
}

void SparseLinear::check_state(const std::string& prefix, StateLoad& load) {
  if (rigl_ && load.has_counters()) check_rigl_counters(prefix, load);
  const Tensor weights = load.take(prefix + "weights");
  const Tensor indices = load.take(prefix + "indices");
  const Tensor bias = bias_.defined() ? load.take(prefix + "bias", bias_.dtype(), bias_.shape()) : Tensor();
  const Device device = weights_.device();
  std::vector<std::pair<Tensor, Tensor>> replacements;  // (layer tensor, its new contents)
  // A private copy on the layer's device (the tensor itself when the load owns it).
  const auto private_copy = [&](const Tensor& source) {
    const Tensor moved = copy_to_device(source, device).detach();
    return source.device() != device || load.owns_tensors() ? moved : moved.clone();
  };
  bool new_connections = false;
  if (bias.defined()) replacements.emplace_back(bias_, private_copy(bias));

  if (weights.defined() && indices.defined()) {
    const std::string weights_name = prefix + "weights", indices_name = prefix + "indices";
    if (weights.dtype() != DType::Float32 || weights.dim() != 1) {
      load.fail(detail::concat("dtype or shape mismatch for ", weights_name, ": expected float32 [nnz] but got ",
                               weights.dtype(), " ", weights.shape()));
      return;
    }
    if (indices.dtype() != DType::Int64 || indices.dim() != 2 || indices.size(0) != 2) {
      load.fail(detail::concat("dtype or shape mismatch for ", indices_name, ": expected int64 [2, nnz] but got ",
                               indices.dtype(), " ", indices.shape()));
      return;
    }
    if (indices.size(1) != weights.numel()) {
      load.fail(detail::concat("nnz mismatch for ", prefix, "(SparseLinear): ", weights_name, " has ", weights.numel(),
                               " values but ", indices_name, " has ", indices.size(1), " connections"));
      return;
    }
    if (weights.numel() == 0) {
      load.fail(detail::concat("empty connectivity for ", indices_name, ": expected at least one connection"));
      return;
    }
    SparseStructure structure;
    try {
      const Tensor host_indices = copy_to_device(indices, Device::cpu());
      kernels::check_sorted_connectivity(indices_name.c_str(), host_indices, out_features_, in_features_);
      structure = kernels::make_sparse_structure(host_indices, out_features_, in_features_).to(device);
    } catch (const Error& error) {
      load.fail(error.what());
      return;
    }
    replacements.emplace_back(weights_, private_copy(weights));
    replacements.emplace_back(structure_.row_pointers, structure.row_pointers);
    replacements.emplace_back(structure_.column_indices, structure.column_indices);
    replacements.emplace_back(structure_.column_pointers, structure.column_pointers);
    replacements.emplace_back(structure_.row_indices, structure.row_indices);
    replacements.emplace_back(structure_.csc_to_value, structure.csc_to_value);
    new_connections = true;
  }
  load.on_apply([this, replacements, new_connections] {
    for (const auto& [tensor, contents] : replacements) replace_tensor_(tensor, contents);
    if (new_connections) connectivity_kind_ = "loaded";
  });
}

void SparseLinear::check_rigl_counters(const std::string& prefix, StateLoad& load) {
  const std::string name = prefix + "rigl.";
  std::map<std::string, uint64_t> values;
  bool complete = true;
  for (const char* key : {"steps", "updates", "skipped", "moved", "last_step", "last_dropped", "last_moved", "seed",
                          "delta_t", "t_end"}) {
    const std::optional<uint64_t> value = load.take_counter(name + key);
    if (value) values[key] = *value;
    complete = complete && value.has_value();
  }
  if (!complete) return;  // listed as missing
  const auto same = [&](const char* key, int64_t own) {
    if (values[key] == static_cast<uint64_t>(own)) return true;
    load.fail(detail::concat("RigL mismatch for ", name, key, ": the checkpoint's layer has ", values[key],
                             ", the layer in current model has ", own));
    return false;
  };
  if (!same("delta_t", rigl_->delta_t()) || !same("t_end", rigl_->t_end())) return;
  constexpr auto kLargest = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  for (const char* key : {"steps", "updates", "skipped", "moved", "last_step", "last_dropped", "last_moved"})
    if (values[key] > kLargest) {
      load.fail(detail::concat("RigL counter ", name, key, " is ", values[key], ", above the largest int64"));
      return;
    }
  RiglStatistics statistics;
  statistics.steps = static_cast<int64_t>(values["steps"]);
  statistics.updates = static_cast<int64_t>(values["updates"]);
  statistics.skipped = static_cast<int64_t>(values["skipped"]);
  statistics.moved = static_cast<int64_t>(values["moved"]);
  statistics.last.step = static_cast<int64_t>(values["last_step"]);
  statistics.last.dropped = static_cast<int64_t>(values["last_dropped"]);
  statistics.last.moved = static_cast<int64_t>(values["last_moved"]);
  if (statistics.updates + statistics.skipped > statistics.steps || statistics.last.step > statistics.steps) {
    load.fail(detail::concat("RigL counters of ", name, " disagree: ", statistics.updates, " updates and ",
                             statistics.skipped, " skipped updates (last at step ", statistics.last.step, ") in ",
                             statistics.steps, " steps"));
    return;
  }
  const uint64_t seed = values["seed"];
  load.on_apply([this, statistics, seed] { rigl_->restore(statistics, seed); });
}

SparseWeight SparseLinear::weight() const {
  return SparseWeight(structure_.row_pointers, structure_.column_indices, weights_, Shape{out_features_, in_features_});
}

double SparseLinear::sparsity() const {
  return 1.0 - static_cast<double>(nnz()) / (static_cast<double>(in_features_) * static_cast<double>(out_features_));
}

size_t SparseLinear::memory_bytes() const {
  size_t total = structure_.nbytes();
  for (const Tensor& p : parameters(false)) total += p.nbytes();
  return total;
}

std::string SparseLinear::extra_repr() const {
  std::ostringstream text;
  text << "in_features=" << in_features_ << ", out_features=" << out_features_
       << ", bias=" << (bias_.defined() ? "true" : "false") << ", sparsity="
       << (std::string(connectivity_kind_) == "user" || std::string(connectivity_kind_) == "loaded"
               ? sparsity()
               : requested_sparsity_)
       << ", connectivity=" << connectivity_kind_ << ", small_world=" << (small_world_ ? "true" : "false")
       << ", dynamic=" << (rigl_ ? "true" : "false");
  if (rigl_)
    text << ", delta_t=" << rigl_->delta_t() << ", t_end=" << rigl_->t_end() << ", alpha=" << rigl_->alpha()
         << ", growth=" << to_string(rigl_->growth());
  if (init_ == SparseInit::FanIn) text << ", init=" << to_string(init_);
  if (bfloat16_weights_) text << ", compute_dtype=bfloat16";
  return text.str();
}

}  // namespace wisp::nn
