#include "layers/sparse_linear.h"

#include <cmath>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/factories.h"
#include "core/random.h"
#include "layers/connectivity.h"
#include "layers/functional.h"
#include "layers/sparse_functional.h"

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

Tensor SparseWeight::to_dense() const {
  const int64_t out = shape_[0], in = shape_[1], nnz = values_.numel();
  const std::vector<int64_t> index = indices_.to_vector<int64_t>();
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

SparseLinear::SparseLinear(int64_t in_features, int64_t out_features, SparseLinearOptions options)
    : in_features_(in_features),
      out_features_(out_features),
      requested_sparsity_(options.sparsity()),
      small_world_(options.small_world()) {
  WISP_CHECK(in_features > 0 && out_features > 0,
             "SparseLinear: expected positive in_features and out_features but got ", in_features, " and ",
             out_features);
  WISP_CHECK(!options.dynamic(),
             "SparseLinear: dynamic (RigL) connectivity is not available yet; construct the layer with "
             "dynamic(false) (the default) for static connectivity");
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

  // U(-bound, bound) with bound = 1/√in_features, as the seed package (and nn::Linear) do.
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  NoGradGuard no_grad;
  weights_ = register_parameter("weights", rand({structure_.nnz()}) * (2 * bound) - bound);
  if (options.bias()) bias_ = register_parameter("bias", rand({out_features}) * (2 * bound) - bound);
}

Tensor SparseLinear::forward(const Tensor& input) {
  WISP_CHECK(input.defined() && input.dim() >= 1 && input.size(-1) == in_features_,
             "SparseLinear: expected input of shape [..., ", in_features_, "] (in_features=", in_features_,
             ") but got ", input.defined() ? printed(input.shape()) : std::string("an undefined tensor"));
  return sparse_linear(input, weights_, structure_, bias_);
}

void SparseLinear::to(Device device) {
  Module::to(device);  // parameters and the CSR buffers, in place (structure_ shares those handles)
  structure_ = structure_.to(device);
}

Tensor SparseLinear::indices() const {
  const int64_t nnz = structure_.nnz();
  std::vector<int64_t> index(static_cast<size_t>(2 * nnz));
  const auto expand = [&](auto tag) {
    using Index = typename decltype(tag)::type;
    const std::vector<Index> pointers = structure_.row_pointers.to_vector<Index>();
    const std::vector<Index> columns = structure_.column_indices.to_vector<Index>();
    for (int64_t row = 0; row < out_features_; ++row)
      for (Index k = pointers[static_cast<size_t>(row)]; k < pointers[static_cast<size_t>(row) + 1]; ++k) {
        index[static_cast<size_t>(k)] = row;
        index[static_cast<size_t>(nnz + k)] = columns[static_cast<size_t>(k)];
      }
  };
  if (structure_.index_dtype() == DType::Int32) {
    expand(TypeTag<int32_t>{});
  } else {
    expand(TypeTag<int64_t>{});
  }
  return from_vector(index, {2, nnz}, structure_.device());
}

SparseWeight SparseLinear::weight() const { return SparseWeight(indices(), weights_, Shape{out_features_, in_features_}); }

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
       << ", bias=" << (bias_.defined() ? "true" : "false")
       << ", sparsity=" << (std::string(connectivity_kind_) == "user" ? sparsity() : requested_sparsity_)
       << ", connectivity=" << connectivity_kind_ << ", small_world=" << (small_world_ ? "true" : "false")
       << ", dynamic=false";
  return text.str();
}

}  // namespace wisp::nn
