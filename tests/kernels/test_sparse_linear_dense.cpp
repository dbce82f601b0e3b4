// kernels/cpu/sparse_linear_dense.h: the dense twin of the sparse linear forward and grad_input gives
// results bit for bit equal to the sparse kernels', falls back to them where it could not, and the
// measured entry points give the sparse kernels' results whichever variant wins.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "test_helpers.h"
#include "wisp/kernels/cpu/kernel_choice.h"
#include "wisp/kernels/cpu/sparse_linear.h"
#include "wisp/kernels/cpu/sparse_linear_dense.h"
#include "wisp/kernels/sparse_linear.h"

using namespace wisp;
using wisp::testing::values;
namespace cpu = wisp::kernels::cpu;

namespace {

// A random connectivity, Int64 [2, nnz] sorted by (row, col), with output row `empty_row` and input
// column `empty_column` left without nonzeros.
Tensor random_indices(int64_t out, int64_t in, double density, int64_t empty_row, int64_t empty_column) {
  const std::vector<float> draws = values(rand({out * in}));
  std::vector<int64_t> rows, cols;
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < in; ++c)
      if (r != empty_row && c != empty_column && draws[static_cast<size_t>(r * in + c)] < density) {
        rows.push_back(r);
        cols.push_back(c);
      }
  std::vector<int64_t> both = rows;
  both.insert(both.end(), cols.begin(), cols.end());
  return from_vector(both, {2, static_cast<int64_t>(rows.size())});
}

// Normal draws with about a quarter replaced by exact zeros of either sign (the sums the dense loop
// must leave unchanged include zero terms and zero partial sums).
Tensor draws_with_zeros(const Shape& shape) {
  std::vector<float> v = values(randn(shape));
  const std::vector<float> pick = values(rand(shape));
  for (size_t i = 0; i < v.size(); ++i) {
    if (pick[i] < 0.125f) v[i] = 0.0f;
    else if (pick[i] < 0.25f) v[i] = -0.0f;
  }
  return from_vector(v, shape);
}

// The position of the first element whose bits differ, or -1.
int64_t first_bitwise_difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<float> x = values(a), y = values(b);
  for (size_t i = 0; i < x.size(); ++i)
    if (std::memcmp(&x[i], &y[i], sizeof(float)) != 0) return static_cast<int64_t>(i);
  return -1;
}

Tensor empty_like_float(int64_t rows, int64_t features) { return empty({rows, features}, DType::Float32); }

}  // namespace

TEST_CASE("sparse_linear dense forward and grad_input: bit for bit the sparse kernels' results",
          "[sparse_linear_dense]") {
  manual_seed(3);
  const int64_t rows = GENERATE(2, 3, 17, 64, 100);
  const DType index_dtype = GENERATE(DType::Int32, DType::Int64);
  const bool with_bias = GENERATE(false, true);
  const int64_t out = 37, in = 53;
  INFO("rows " << rows << ", index dtype " << index_dtype << ", bias " << with_bias);
  const kernels::SparseStructure structure =
      kernels::make_sparse_structure(random_indices(out, in, 0.3, 5, 7), out, in, index_dtype);
  const Tensor weights = draws_with_zeros({structure.nnz()});
  const Tensor bias = with_bias ? draws_with_zeros({out}) : Tensor();
  const kernels::FeatureMajor x = kernels::to_feature_major(draws_with_zeros({rows, in}));
  REQUIRE(cpu::dense_sparse_linear_applies(rows, structure));

  Tensor sparse_output = empty_like_float(rows, out), dense_output = empty_like_float(rows, out);
  cpu::sparse_linear_forward(x, weights, structure, bias, sparse_output);
  CHECK(cpu::sparse_linear_forward_dense(x, weights, structure, bias, dense_output));
  CHECK(first_bitwise_difference(dense_output, sparse_output) == -1);
  // The empty output row is the bias (or 0) in both.
  CHECK(values(dense_output)[5] == (with_bias ? values(bias)[5] : 0.0f));

  const kernels::FeatureMajor g = kernels::to_feature_major(draws_with_zeros({rows, out}));
  Tensor sparse_grad = empty_like_float(rows, in), dense_grad = empty_like_float(rows, in);
  cpu::sparse_linear_backward_input(g, weights, structure, sparse_grad);
  CHECK(cpu::sparse_linear_backward_input_dense(g, weights, structure, dense_grad));
  CHECK(first_bitwise_difference(dense_grad, sparse_grad) == -1);
  CHECK(values(dense_grad)[7] == 0.0f);  // the empty input column

  // A second call reuses the dense buffer, which must hold zeros again where the first call wrote.
  const kernels::SparseStructure other =
      kernels::make_sparse_structure(random_indices(out, in, 0.2, 0, 0), out, in, index_dtype);
  const Tensor other_weights = draws_with_zeros({other.nnz()});
  cpu::sparse_linear_forward(x, other_weights, other, bias, sparse_output);
  CHECK(cpu::sparse_linear_forward_dense(x, other_weights, other, bias, dense_output));
  CHECK(first_bitwise_difference(dense_output, sparse_output) == -1);
}

TEST_CASE("sparse_linear dense: larger layers across tiles and threads match bit for bit", "[sparse_linear_dense]") {
  manual_seed(5);
  const int64_t rows = GENERATE(64, 130);
  const int64_t out = 300, in = 250;  // out · in · rows above the parallel threshold: both threads work
  INFO("rows " << rows);
  const kernels::SparseStructure structure =
      kernels::make_sparse_structure(random_indices(out, in, 0.1, 299, 0), out, in);
  const Tensor weights = randn({structure.nnz()});
  const Tensor bias = randn({out});
  const kernels::FeatureMajor x = kernels::to_feature_major(randn({rows, in}));
  Tensor sparse_output = empty_like_float(rows, out), dense_output = empty_like_float(rows, out);
  cpu::sparse_linear_forward(x, weights, structure, bias, sparse_output);
  CHECK(cpu::sparse_linear_forward_dense(x, weights, structure, bias, dense_output));
  CHECK(first_bitwise_difference(dense_output, sparse_output) == -1);

  const kernels::FeatureMajor g = kernels::to_feature_major(randn({rows, out}));
  Tensor sparse_grad = empty_like_float(rows, in), dense_grad = empty_like_float(rows, in);
  cpu::sparse_linear_backward_input(g, weights, structure, sparse_grad);
  CHECK(cpu::sparse_linear_backward_input_dense(g, weights, structure, dense_grad));
  CHECK(first_bitwise_difference(dense_grad, sparse_grad) == -1);
}

TEST_CASE("sparse_linear dense: non-finite inputs take the sparse kernel", "[sparse_linear_dense]") {
  manual_seed(7);
  const int64_t rows = 20, out = 12, in = 9;
  const kernels::SparseStructure structure =
      kernels::make_sparse_structure(random_indices(out, in, 0.3, 2, 3), out, in);
  const Tensor weights = randn({structure.nnz()});
  const float special = GENERATE(std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                                 std::numeric_limits<float>::quiet_NaN());
  INFO("special value " << special);
  std::vector<float> xs = values(randn({rows, in}));
  xs[static_cast<size_t>(4 * in + 3)] = special;  // in the empty column 3: a dense 0 · x would be NaN
  const kernels::FeatureMajor x = kernels::to_feature_major(from_vector(xs, {rows, in}));
  Tensor sparse_output = empty_like_float(rows, out), dense_output = empty_like_float(rows, out);
  cpu::sparse_linear_forward(x, weights, structure, Tensor(), sparse_output);
  CHECK_FALSE(cpu::sparse_linear_forward_dense(x, weights, structure, Tensor(), dense_output));
  CHECK(first_bitwise_difference(dense_output, sparse_output) == -1);
  CHECK(std::isfinite(values(dense_output)[static_cast<size_t>(4 * out)]));  // row 4, output 0 skips column 3

  std::vector<float> gs = values(randn({rows, out}));
  gs[static_cast<size_t>(6 * out + 2)] = special;  // in the empty output row 2
  const kernels::FeatureMajor g = kernels::to_feature_major(from_vector(gs, {rows, out}));
  Tensor sparse_grad = empty_like_float(rows, in), dense_grad = empty_like_float(rows, in);
  cpu::sparse_linear_backward_input(g, weights, structure, sparse_grad);
  CHECK_FALSE(cpu::sparse_linear_backward_input_dense(g, weights, structure, dense_grad));
  CHECK(first_bitwise_difference(dense_grad, sparse_grad) == -1);
}

TEST_CASE("sparse_linear dense: a -0 bias gives the sparse kernel's +0 sums", "[sparse_linear_dense]") {
  // The sums start at splat(bias), which turns −0 into +0; were they to start at −0, the dense loop's
  // +0 · x terms would turn an empty row's −0 into +0 where the sparse kernel keeps −0.
  manual_seed(8);
  const int64_t rows = 20, out = 12, in = 9;
  const kernels::SparseStructure structure =
      kernels::make_sparse_structure(random_indices(out, in, 0.3, 2, 3), out, in);
  const Tensor weights = randn({structure.nnz()});
  std::vector<float> bias_values = values(randn({out}));
  bias_values[2] = -0.0f;  // the empty output row
  const Tensor bias = from_vector(bias_values, {out});
  const kernels::FeatureMajor x = kernels::to_feature_major(randn({rows, in}));
  Tensor sparse_output = empty_like_float(rows, out), dense_output = empty_like_float(rows, out);
  cpu::sparse_linear_forward(x, weights, structure, bias, sparse_output);
  CHECK(cpu::sparse_linear_forward_dense(x, weights, structure, bias, dense_output));
  CHECK(first_bitwise_difference(dense_output, sparse_output) == -1);
}

TEST_CASE("sparse_linear dense: offered only for batches and small layers", "[sparse_linear_dense]") {
  const kernels::SparseStructure small = kernels::make_sparse_structure(from_vector<int64_t>({0, 1}, {2, 1}), 2000, 10);
  CHECK(cpu::dense_sparse_linear_applies(2, small));
  CHECK_FALSE(cpu::dense_sparse_linear_applies(1, small));
  const kernels::SparseStructure at_limit =
      kernels::make_sparse_structure(from_vector<int64_t>({0, 1}, {2, 1}), 2048, 2048);
  CHECK(cpu::dense_sparse_linear_applies(64, at_limit));
  const kernels::SparseStructure large =
      kernels::make_sparse_structure(from_vector<int64_t>({0, 1}, {2, 1}), 2049, 2048);
  CHECK_FALSE(cpu::dense_sparse_linear_applies(64, large));

  // One row: the dense function runs the sparse kernel.
  const kernels::FeatureMajor x = kernels::to_feature_major(randn({1, 10}));
  const Tensor weights = from_vector<float>({1.5f}, {1});
  Tensor output = empty_like_float(1, 2000);
  CHECK_FALSE(cpu::sparse_linear_forward_dense(x, weights, small, Tensor(), output));
  CHECK(values(output)[0] == 1.5f * values(x.data)[1]);
}

TEST_CASE("sparse_linear measured: the sparse kernels' results whichever variant wins", "[sparse_linear_dense]") {
  manual_seed(9);
  cpu::forget_kernel_choices();
  const int64_t rows = GENERATE(1, 17, 64);
  const int64_t out = 40, in = 70;
  INFO("rows " << rows);
  const kernels::SparseStructure structure =
      kernels::make_sparse_structure(random_indices(out, in, 0.1, 1, 1), out, in);
  const Tensor weights = randn({structure.nnz()});
  const Tensor bias = randn({out});
  const kernels::FeatureMajor x = kernels::to_feature_major(randn({rows, in}));
  const kernels::FeatureMajor g = kernels::to_feature_major(randn({rows, out}));
  Tensor expected_output = empty_like_float(rows, out), expected_grad = empty_like_float(rows, in);
  cpu::sparse_linear_forward(x, weights, structure, bias, expected_output);
  cpu::sparse_linear_backward_input(g, weights, structure, expected_grad);

  // The first call measures (and leaves the winner's result), the second runs the remembered winner.
  for (int call = 0; call < 2; ++call) {
    INFO("call " << call);
    Tensor output = empty_like_float(rows, out), grad = empty_like_float(rows, in);
    cpu::sparse_linear_forward_measured(x, weights, structure, bias, output);
    cpu::sparse_linear_backward_input_measured(g, weights, structure, grad);
    CHECK(first_bitwise_difference(output, expected_output) == -1);
    CHECK(first_bitwise_difference(grad, expected_grad) == -1);
  }
  // Batches are measured once per shape class; one row is never offered the dense loop.
  // (WISP_KERNEL_CHOICE other than "measure" records no choices.)
  const char* setting = std::getenv("WISP_KERNEL_CHOICE");
  // The dense-or-sparse choices only (the sparse kernel's own prefetch choice is keyed "... tiles").
  std::vector<std::string> choices;
  for (const std::string& choice : cpu::kernel_choices())
    if (choice.find(" tiles ") == std::string::npos) choices.push_back(choice);
  if (setting != nullptr && std::string(setting) != "measure") {
    CHECK(choices.empty());
  } else if (rows == 1) {
    CHECK(choices.empty());
  } else {
    REQUIRE(choices.size() == 2);
    const std::string rows_class = rows <= 64 ? " rows<=64" : " rows<=128";
    CHECK(choices[0].find("sparse_linear_backward_input out=40 in=70 nnz=" + std::to_string(structure.nnz()) +
                          rows_class + " threads=") == 0);
    CHECK(choices[1].find("sparse_linear_forward out=40 in=70") == 0);
  }
  cpu::forget_kernel_choices();
}
