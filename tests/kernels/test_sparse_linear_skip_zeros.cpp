// The zero-skipping sparse forward (kernels/cpu/sparse_linear_skip_zeros.h) and the inference
// dispatch that chooses it (kernels/sparse_linear_inference.h): equal to the CSR forward within
// rounding for any fraction of zero inputs, both index widths, with and without bias; deterministic;
// and used by sparse_linear only when nothing is recorded.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "test_helpers.h"
#include "wisp/kernels/cpu/kernel_choice.h"
#include "wisp/kernels/cpu/sparse_linear_skip_zeros.h"
#include "wisp/kernels/sparse_linear.h"
#include "wisp/kernels/sparse_linear_inference.h"
#include "wisp/ops/sparse_linear.h"

using namespace wisp;
using wisp::testing::require_close;
using wisp::testing::values;

namespace {

// A random connectivity as sorted distinct (row, col) pairs, Int64 [2, nnz]; input feature
// `unconnected` gets no connection.
Tensor random_indices(int64_t out, int64_t in, double density, int64_t unconnected) {
  const std::vector<float> draws = values(rand({out * in}));
  std::vector<int64_t> rows, cols;
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < in; ++c)
      if (c != unconnected && draws[static_cast<size_t>(r * in + c)] < density) {
        rows.push_back(r);
        cols.push_back(c);
      }
  std::vector<int64_t> both = rows;
  both.insert(both.end(), cols.begin(), cols.end());
  return from_vector(both, {2, static_cast<int64_t>(rows.size())});
}

// x [rows, in] ~ N(0, 1) with the same input features zeroed in every row, about `zeros` of them;
// feature 0 is kept nonzero (it is the unconnected one in the tests below).
Tensor input_with_zeros(int64_t rows, int64_t in, double zeros) {
  std::vector<float> x = values(randn({rows, in}));
  const std::vector<float> draws = values(rand({in}));
  for (int64_t i = 1; i < in; ++i)
    if (draws[static_cast<size_t>(i)] < zeros)
      for (int64_t r = 0; r < rows; ++r) x[static_cast<size_t>(r * in + i)] = 0.0f;
  return from_vector(x, {rows, in});
}

// The zero-skipping forward on the CPU.
Tensor skip_zeros_forward(const Tensor& x, const Tensor& weights, const kernels::SparseStructure& structure,
                          const Tensor& bias) {
  const kernels::FeatureMajor input = kernels::to_feature_major(x);
  const kernels::cpu::ActiveInputs active = kernels::cpu::find_active_inputs(input);
  Tensor output = empty({input.rows, structure.out_features});
  kernels::cpu::sparse_linear_forward_skip_zeros(input, active, kernels::cpu::csc_ordered_values(weights, structure),
                                                 structure, bias, output);
  return output;
}

}  // namespace

TEST_CASE("sparse_linear skip-zeros: the active inputs are the features nonzero in some row", "[sparse_kernels]") {
  // Feature 1 is nonzero only in row 1, feature 3 only as NaN; -0.0 counts as zero.
  const Tensor x = from_vector<float>({0, 0, -0.0f, NAN, 5, 0, 2, 0, 0, 0}, {2, 5});
  const kernels::cpu::ActiveInputs active = kernels::cpu::find_active_inputs(kernels::to_feature_major(x));
  CHECK(active.features == std::vector<int64_t>{1, 3, 4});
  CHECK(active.in_features == 5);
  CHECK(active.zero_fraction() == Approx(0.4));
}

TEST_CASE("sparse_linear skip-zeros: equals the CSR forward within rounding", "[sparse_kernels]") {
  manual_seed(5);
  const DType index_dtype = GENERATE(DType::Int32, DType::Int64);
  const double zeros = GENERATE(0.0, 0.5, 0.9, 1.0);
  const int64_t rows = GENERATE(1, 2, 3, 4);
  const bool with_bias = GENERATE(false, true);
  // 300 x 400 at 50%: 60000 nonzeros, enough for the threads to split the columns.
  const int64_t out = 300, in = 400;
  INFO("index dtype " << index_dtype << ", zeros " << zeros << ", rows " << rows << ", bias " << with_bias);
  const kernels::SparseStructure structure =
      kernels::make_sparse_structure(random_indices(out, in, 0.5, 0), out, in, index_dtype);
  const Tensor weights = randn({structure.nnz()});
  const Tensor bias = with_bias ? randn({out}) : Tensor();
  const Tensor x = input_with_zeros(rows, in, zeros);
  const Tensor expected = kernels::sparse_linear_forward(kernels::to_feature_major(x), weights, structure, bias);
  const Tensor actual = skip_zeros_forward(x, weights, structure, bias);
  require_close(actual, expected, 1e-5f);
  if (zeros == 1.0) {  // only feature 0 is nonzero, and it has no connections: y is the bias
    const std::vector<float> y = values(actual);
    const std::vector<float> b = with_bias ? values(bias) : std::vector<float>(static_cast<size_t>(out), 0.0f);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o) REQUIRE(y[static_cast<size_t>(r * out + o)] == b[static_cast<size_t>(o)]);
  }
}

TEST_CASE("sparse_linear skip-zeros: the same bits on every run, close across thread counts", "[sparse_kernels]") {
  manual_seed(6);
  const int64_t out = 500, in = 600;
  const kernels::SparseStructure structure = kernels::make_sparse_structure(random_indices(out, in, 0.3, 0), out, in);
  const Tensor weights = randn({structure.nnz()});
  const Tensor bias = randn({out});
  const Tensor x = input_with_zeros(1, in, 0.6);
  const int threads = omp_get_max_threads();
  const std::vector<float> first = values(skip_zeros_forward(x, weights, structure, bias));
  CHECK(values(skip_zeros_forward(x, weights, structure, bias)) == first);
  omp_set_num_threads(1);
  const Tensor one_thread = skip_zeros_forward(x, weights, structure, bias);
  omp_set_num_threads(threads);
  require_close(one_thread, from_vector(first, {1, out}), 1e-5f);
}

TEST_CASE("sparse_linear_forward_inference: chooses between the forwards per tenth of zeros", "[sparse_kernels]") {
  manual_seed(7);
  kernels::cpu::forget_kernel_choices();
  const int64_t out = 200, in = 300;
  const kernels::SparseStructure structure = kernels::make_sparse_structure(random_indices(out, in, 0.2, 0), out, in);
  const Tensor weights = randn({structure.nnz()});
  const Tensor bias = randn({out});
  for (const double zeros : {0.0, 0.65}) {
    const Tensor x = input_with_zeros(1, in, zeros);
    const kernels::FeatureMajor input = kernels::to_feature_major(x);
    const Tensor expected = kernels::sparse_linear_forward(input, weights, structure, bias);
    for (int call = 0; call < 2; ++call)  // measured, then remembered
      require_close(kernels::sparse_linear_forward_inference(input, weights, structure, bias), expected, 1e-5f);
  }
  const std::vector<std::string> choices = kernels::cpu::kernel_choices();
  const auto count = std::count_if(choices.begin(), choices.end(), [](const std::string& line) {
    return line.find("sparse_linear_forward_inference rows=1 in=300 out=200") != std::string::npos;
  });
  CHECK(count == 2);  // one per tenth of zeros seen (0/10 and 6/10)

  // More rows than the zero-skipping forward takes: the CSR forward itself, bit for bit.
  const kernels::FeatureMajor batch = kernels::to_feature_major(input_with_zeros(5, in, 0.9));
  CHECK(values(kernels::sparse_linear_forward_inference(batch, weights, structure, bias)) ==
        values(kernels::sparse_linear_forward(batch, weights, structure, bias)));
  // Its own argument checks.
  const kernels::FeatureMajor wrong = kernels::to_feature_major(randn({1, in + 1}));
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward_inference(wrong, weights, structure, bias), "sparse_linear", "301");
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward_inference(kernels::to_feature_major(input_with_zeros(1, in, 0.5)),
                                                              weights, structure, randn({out + 1})),
                     "bias");
}

TEST_CASE("sparse_linear: inference may skip zeros, training runs the CSR forward bit for bit", "[sparse_kernels]") {
  manual_seed(8);
  kernels::cpu::forget_kernel_choices();
  const int64_t out = 400, in = 500;
  const kernels::SparseStructure structure = kernels::make_sparse_structure(random_indices(out, in, 0.3, 0), out, in);
  const Tensor weights = randn({structure.nnz()}).set_requires_grad(true);
  const Tensor bias = randn({out}).set_requires_grad(true);
  const Tensor x = input_with_zeros(1, in, 0.9);
  const Tensor reference =
      kernels::sparse_linear_forward(kernels::to_feature_major(x), weights.detach(), structure, bias.detach());

  const Tensor recorded = sparse_linear(x, weights, structure, bias);
  REQUIRE(recorded.requires_grad());
  CHECK(values(recorded) == values(reference));
  {
    const NoGradGuard no_grad;
    const Tensor inferred = sparse_linear(x, weights, structure, bias);
    CHECK_FALSE(inferred.requires_grad());
    require_close(inferred, reference, 1e-5f);
  }
  const Tensor detached = sparse_linear(x.view({in}), weights.detach(), structure, bias.detach());  // 1-D input
  REQUIRE(detached.shape() == Shape{out});
  require_close(detached.view({1, out}), reference, 1e-5f);
}

TEST_CASE("sparse_linear skip-zeros: the CSC-ordered values are made once per version", "[sparse_kernels]") {
  manual_seed(9);
  const int64_t out = 30, in = 40;
  const kernels::SparseStructure structure = kernels::make_sparse_structure(random_indices(out, in, 0.3, 0), out, in);
  const Tensor weights = randn({structure.nnz()});
  const auto expected = [&] {
    const std::vector<float> w = values(weights);
    const std::vector<int32_t> permutation = structure.csc_to_value.to_vector<int32_t>();
    std::vector<float> result;
    for (const int32_t k : permutation) result.push_back(w[static_cast<size_t>(k)]);
    return result;
  };
  const Tensor first = kernels::cpu::csc_ordered_values(weights, structure);
  CHECK(values(first) == expected());
  CHECK(kernels::cpu::csc_ordered_values(weights, structure).impl() == first.impl());  // reused
  weights.data<float>()[0] += 1.0f;
  weights.bump_version();
  const Tensor second = kernels::cpu::csc_ordered_values(weights, structure);
  CHECK(second.impl() != first.impl());
  CHECK(values(second) == expected());
}
