// nn::SparseLinear and the sparse_linear op: forward and every gradient against the dense
// equivalent (weight().to_dense() + linear), check_gradients, connectivity (exact nnz, user
// connections coalesced, the notebook's user example), determinism, printing, errors, to(Device)
// and training (the notebook's "Training with random inputs").
#include <cmath>
#include <set>
#include <sstream>
#include <utility>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::printed;
using wisp::testing::require_close;
using wisp::testing::values;

namespace {

Shape with_last(const Shape& shape, int64_t last) {
  std::vector<int64_t> dims(shape.begin(), shape.end());
  dims.back() = last;
  return Shape(dims);
}

// Checks the forward and all gradients of `layer` on an input of `input_shape` against the dense
// layer built from weight().to_dense(), for a random upstream gradient.
void check_against_dense(nn::SparseLinear& layer, const Shape& input_shape) {
  const int64_t in = layer.in_features(), out = layer.out_features();
  Tensor x = randn(input_shape).set_requires_grad(true);
  Tensor x_dense = x.detach().clone().set_requires_grad(true);
  Tensor w_dense = layer.weight().to_dense().set_requires_grad(true);
  Tensor b_dense = layer.bias().defined() ? layer.bias().detach().clone().set_requires_grad(true) : Tensor();

  Tensor y = layer(x);
  Tensor y_dense = linear(x_dense, w_dense, b_dense);
  REQUIRE(y.shape() == with_last(input_shape, out));
  require_close(y, y_dense, 1e-4f);

  Tensor upstream = randn(y.shape());
  layer.zero_grad();
  y.backward(upstream);
  y_dense.backward(upstream);
  require_close(x.grad(), x_dense.grad(), 1e-4f);
  // The dense weight gradient, read at the connections, is the sparse one.
  const std::vector<int64_t> index = layer.weight().indices().to_vector<int64_t>();
  const std::vector<float> dense_grad = values(w_dense.grad());
  std::vector<float> expected(static_cast<size_t>(layer.nnz()));
  for (int64_t k = 0; k < layer.nnz(); ++k)
    expected[static_cast<size_t>(k)] = dense_grad[static_cast<size_t>(index[k] * in + index[layer.nnz() + k])];
  require_close(layer.weights().grad(), from_vector(expected), 1e-4f);
  if (b_dense.defined()) require_close(layer.bias().grad(), b_dense.grad(), 1e-4f);
}

}  // namespace

// ---- connectivity and parameters ----------------------------------------------------------------

TEST_CASE("SparseLinear: exactly round((1 - sparsity) · in · out) distinct, sorted connections", "[sparse_linear]") {
  manual_seed(1);
  const auto [in, out, sparsity] = GENERATE(table<int64_t, int64_t, double>(
      {{10, 20, 0.9}, {784, 2000, 0.9}, {7, 3, 0.5}, {300, 50, 0.99}, {5, 5, 0.0}, {1, 1, 0.0}}));
  INFO(in << " -> " << out << " at " << sparsity);
  nn::SparseLinear layer(in, out, nn::SparseLinearOptions().sparsity(sparsity));
  const int64_t expected = std::llround((1.0 - sparsity) * static_cast<double>(in * out));
  REQUIRE(layer.nnz() == expected);
  REQUIRE(layer.weights().shape() == Shape{expected});
  REQUIRE(layer.bias().shape() == Shape{out});
  REQUIRE(layer.weight().shape() == Shape{out, in});
  REQUIRE(layer.sparsity() == Approx(1.0 - static_cast<double>(expected) / static_cast<double>(in * out)));
  const Tensor indices = layer.weight().indices();
  REQUIRE(indices.dtype() == DType::Int64);
  REQUIRE(indices.shape() == Shape{2, expected});
  const std::vector<int64_t> index = indices.to_vector<int64_t>();
  for (int64_t k = 0; k < expected; ++k) {
    REQUIRE(index[k] >= 0);
    REQUIRE(index[k] < out);
    REQUIRE(index[expected + k] >= 0);
    REQUIRE(index[expected + k] < in);
    if (k > 0) {
      const auto previous = std::make_pair(index[k - 1], index[expected + k - 1]);
      REQUIRE(previous < std::make_pair(index[k], index[expected + k]));  // sorted, hence distinct
    }
  }
}

TEST_CASE("SparseLinear: parameters, buffers and initialisation bounds", "[sparse_linear]") {
  manual_seed(2);
  nn::SparseLinear layer(100, 40);
  const auto named = layer.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weights");
  CHECK(named[1].first == "bias");
  CHECK(layer.weights().requires_grad());
  CHECK(layer.num_parameters() == 400 + 40);
  const auto buffers = layer.named_buffers();
  REQUIRE(buffers.size() == 2);
  CHECK(buffers[0].first == "row_pointers");
  CHECK(buffers[1].first == "column_indices");
  CHECK(layer.structure().index_dtypes() == SparseIndexDTypes{DType::Int32, DType::UInt16, DType::UInt16});
  const float bound = 1.0f / std::sqrt(100.0f);
  for (float w : values(layer.weights())) {
    REQUIRE(std::abs(w) <= bound);
  }
  for (float b : values(layer.bias())) {
    REQUIRE(std::abs(b) <= bound);
  }
  nn::SparseLinear no_bias(100, 40, nn::SparseLinearOptions().bias(false));
  CHECK_FALSE(no_bias.bias().defined());
  CHECK(no_bias.parameters().size() == 1);
  // Values + CSR pointers, CSC pointers and permutation (Int32) + CSR columns and CSC rows (16-bit),
  // plus the bias.
  CHECK(layer.memory_bytes() == 400 * 4 + (41 + 101 + 400) * 4 + (400 + 400) * 2 + 40 * 4);
}

TEST_CASE("SparseLinear: the COO view densifies to a matrix with the weights at the connections", "[sparse_linear]") {
  manual_seed(3);
  nn::SparseLinear layer(10, 20);
  const nn::SparseWeight w = layer.weight();
  CHECK(w.nnz() == 20);
  CHECK(w.values().impl() == layer.weights().impl());  // the parameter itself, not a copy
  const Tensor dense = w.to_dense();
  REQUIRE(dense.shape() == Shape{20, 10});
  const std::vector<int64_t> index = w.indices().to_vector<int64_t>();
  const std::vector<float> d = values(dense), v = values(layer.weights());
  int64_t nonzero = 0;
  for (float e : d) nonzero += e != 0.0f;
  CHECK(nonzero == 20);
  for (int64_t k = 0; k < 20; ++k) REQUIRE(d[static_cast<size_t>(index[k] * 10 + index[20 + k])] == v[k]);
}

// ---- forward and backward against the dense layer -------------------------------------------------

TEST_CASE("SparseLinear: 1-D, 2-D and 3-D inputs, with and without bias, match the dense layer", "[sparse_linear]") {
  manual_seed(4);
  const bool with_bias = GENERATE(true, false);
  // Named copies, not a structured binding: C++17 lambdas (GENERATE_COPY's) cannot capture those.
  const auto layer_case =
      GENERATE(table<int64_t, int64_t, double>({{10, 20, 0.9}, {37, 23, 0.7}, {64, 130, 0.95}, {5, 3, 0.0}}));
  const int64_t in = std::get<0>(layer_case), out = std::get<1>(layer_case);
  const double sparsity = std::get<2>(layer_case);
  const Shape input_shape = GENERATE_COPY(Shape{in}, Shape{1, in}, Shape{4, in}, Shape{2, 3, in}, Shape{2, 9, in});
  INFO(in << " -> " << out << " at " << sparsity << (with_bias ? " with" : " without") << " bias, input "
          << input_shape);
  nn::SparseLinear layer(in, out, nn::SparseLinearOptions().sparsity(sparsity).bias(with_bias));
  check_against_dense(layer, input_shape);
}

TEST_CASE("SparseLinear: batch sizes across the SIMD lanes and tiles match the dense layer", "[sparse_linear]") {
  manual_seed(5);
  // Rows are padded to 16 lanes and tiled by 64: cover each remainder and several tiles.
  const int64_t rows = GENERATE(2, 15, 16, 17, 31, 48, 63, 64, 65, 100, 128, 130);
  INFO("rows " << rows);
  nn::SparseLinear layer(50, 70, nn::SparseLinearOptions().sparsity(0.8));
  check_against_dense(layer, Shape{rows, 50});
}

TEST_CASE("SparseLinear: a layer big enough for the parallel kernels matches the dense layer", "[sparse_linear]") {
  manual_seed(6);
  nn::SparseLinear layer(1500, 1200, nn::SparseLinearOptions().sparsity(0.98));
  const Shape shape = GENERATE(Shape{1500}, Shape{64, 1500}, Shape{3, 25, 1500});
  INFO("input " << shape);
  check_against_dense(layer, shape);
}

TEST_CASE("SparseLinear: an empty batch gives an empty output and zero gradients", "[sparse_linear]") {
  manual_seed(7);
  nn::SparseLinear layer(6, 4, nn::SparseLinearOptions().sparsity(0.5));
  Tensor x = zeros({0, 6}).set_requires_grad(true);
  Tensor y = layer(x);
  REQUIRE(y.shape() == Shape{0, 4});
  y.sum().backward();
  CHECK(values(layer.weights().grad()) == std::vector<float>(12, 0.0f));
  CHECK(values(layer.bias().grad()) == std::vector<float>(4, 0.0f));
  CHECK(x.grad().shape() == Shape{0, 6});
}

TEST_CASE("sparse_linear: gradients match finite differences", "[sparse_linear][gradients]") {
  manual_seed(8);
  const Tensor connections = from_vector<int64_t>({0, 0, 1, 2, 2, 3, 4, 4, 0, 3, 1, 0, 4, 2, 1, 3}, {2, 8});
  const kernels::SparseStructure structure = kernels::make_sparse_structure(connections, 5, 6);
  const auto op = [&](const std::vector<Tensor>& in) { return sparse_linear(in[0], in[1], structure, in[2]); };
  WISP_REQUIRE_GRADIENTS(op, (std::vector<Tensor>{randn({6}), randn({8}), randn({5})}));
  WISP_REQUIRE_GRADIENTS(op, (std::vector<Tensor>{randn({3, 6}), randn({8}), randn({5})}));
  WISP_REQUIRE_GRADIENTS(op, (std::vector<Tensor>{randn({2, 17, 6}), randn({8}), randn({5})}));
  const auto no_bias = [&](const std::vector<Tensor>& in) { return sparse_linear(in[0], in[1], structure); };
  WISP_REQUIRE_GRADIENTS(no_bias, (std::vector<Tensor>{randn({20, 6}), randn({8})}));
}

TEST_CASE("SparseLinear: gradients of the module match finite differences", "[sparse_linear][gradients]") {
  manual_seed(9);
  nn::SparseLinear layer(12, 9, nn::SparseLinearOptions().sparsity(0.6));
  const kernels::SparseStructure& structure = layer.structure();
  const auto op = [&](const std::vector<Tensor>& in) { return sparse_linear(in[0], in[1], structure, in[2]); };
  WISP_REQUIRE_GRADIENTS(op, (std::vector<Tensor>{randn({4, 12}), layer.weights().detach(), layer.bias().detach()}));
}

TEST_CASE("sparse_linear: only the gradients that are needed are computed", "[sparse_linear][gradients]") {
  manual_seed(10);
  nn::SparseLinear layer(8, 5, nn::SparseLinearOptions().sparsity(0.5));
  Tensor x = randn({3, 8});  // does not require grad
  Tensor y = layer(x);
  REQUIRE(y.grad_fn_name() == "SparseLinearBackward");
  y.sum().backward();
  CHECK(layer.weights().grad().defined());
  CHECK(layer.bias().grad().defined());
  CHECK_FALSE(x.grad().defined());
  // Nothing requires grad: nothing is recorded.
  Tensor frozen = sparse_linear(x, layer.weights().detach(), layer.structure(), layer.bias().detach());
  CHECK_FALSE(frozen.requires_grad());
  {
    NoGradGuard no_grad;
    CHECK_FALSE(layer(x).requires_grad());
  }
}

TEST_CASE("SparseLinear: results do not depend on the thread count", "[sparse_linear]") {
  manual_seed(11);
  nn::SparseLinear layer(3000, 2000, nn::SparseLinearOptions().sparsity(0.99));
  Tensor x = randn({33, 3000}).set_requires_grad(true);
  const int threads = get_num_threads();
  std::vector<std::vector<float>> results;
  for (int n : {1, 2, 3}) {
    set_num_threads(n);
    layer.zero_grad();
    x.set_grad(Tensor());
    Tensor y = layer(x);
    (y * y).sum().backward();
    std::vector<float> all = values(y);
    for (const Tensor& t : {x.grad(), layer.weights().grad(), layer.bias().grad()}) {
      const std::vector<float> v = values(t);
      all.insert(all.end(), v.begin(), v.end());
    }
    results.push_back(all);
  }
  set_num_threads(threads);
  CHECK(results[0] == results[1]);
  CHECK(results[0] == results[2]);
}

// ---- user-defined and small-world connectivity ------------------------------------------------------

TEST_CASE("SparseLinear: user connectivity is coalesced and used as given", "[sparse_linear]") {
  manual_seed(12);
  // (out, in) pairs with duplicates and out of order: (2,1) twice, (0,3) three times.
  const Tensor connections = from_vector<int64_t>({2, 0, 2, 1, 0, 0, 1, 3, 1, 0, 3, 3}, {2, 6});
  nn::SparseLinear layer(4, 3, nn::SparseLinearOptions().connectivity(connections));
  REQUIRE(layer.nnz() == 3);
  CHECK(layer.weight().indices().to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 0, 1});
  CHECK(layer.sparsity() == Approx(0.75));
  CHECK(printed(layer) ==
        "SparseLinear(in_features=4, out_features=3, bias=true, sparsity=0.75, connectivity=user, small_world=false, "
        "dynamic=false)");
  check_against_dense(layer, Shape{5, 4});
}

TEST_CASE("SparseLinear: the notebook's user-defined connections (200 random outputs per input pixel)",
          "[sparse_linear]") {
  manual_seed(13);
  const int64_t num_connections = 200;
  Tensor col = arange(784, DType::Int64).repeat_interleave(num_connections).view({1, -1});
  Tensor row = randint(0, 2000, {1, 784 * num_connections}, DType::Int64);
  Tensor connections = cat({row, col}, 0);
  REQUIRE(connections.shape() == Shape{2, 784 * num_connections});
  std::set<std::pair<int64_t, int64_t>> distinct;
  const std::vector<int64_t> r = row.to_vector<int64_t>(), c = col.to_vector<int64_t>();
  for (size_t k = 0; k < r.size(); ++k) distinct.emplace(r[k], c[k]);

  nn::SparseLinear layer(784, 2000, nn::SparseLinearOptions().connectivity(connections));
  REQUIRE(layer.nnz() == static_cast<int64_t>(distinct.size()));
  REQUIRE(layer.nnz() < 784 * num_connections);  // random rows collide: duplicates were merged
  const std::vector<int64_t> index = layer.weight().indices().to_vector<int64_t>();
  size_t k = 0;
  for (const auto& [out, in] : distinct) {  // std::set iterates in (row, col) order
    REQUIRE(index[k] == out);
    REQUIRE(index[static_cast<size_t>(layer.nnz()) + k] == in);
    ++k;
  }
  Tensor x = randn({64, 784});
  NoGradGuard no_grad;
  require_close(layer(x), linear(x, layer.weight().to_dense(), layer.bias()), 1e-4f);
}

TEST_CASE("SparseLinear: small-world connectivity prints and computes like the dense layer", "[sparse_linear]") {
  manual_seed(14);
  nn::SparseLinear layer(40, 60, nn::SparseLinearOptions().small_world(true).sparsity(0.8));
  CHECK(printed(layer) ==
        "SparseLinear(in_features=40, out_features=60, bias=true, sparsity=0.8, connectivity=small-world, "
        "small_world=true, dynamic=false)");
  CHECK(layer.nnz() > 0);
  check_against_dense(layer, Shape{7, 40});
}

// ---- determinism ------------------------------------------------------------------------------------

TEST_CASE("SparseLinear: the same seed gives the same layer", "[sparse_linear]") {
  const auto snapshot = [](const nn::SparseLinear& layer) {
    return std::make_pair(layer.weight().indices().to_vector<int64_t>(), values(layer.weights()));
  };
  manual_seed(15);
  nn::SparseLinear a(300, 200);
  manual_seed(15);
  nn::SparseLinear b(300, 200);
  CHECK(snapshot(a) == snapshot(b));
  nn::SparseLinear c(300, 200);  // the generator moved on
  CHECK(snapshot(a).first != snapshot(c).first);

  // An explicit seed fixes the connectivity whatever the default generator's state.
  manual_seed(1);
  nn::SparseLinear d(300, 200, nn::SparseLinearOptions().seed(42));
  manual_seed(2);
  nn::SparseLinear e(300, 200, nn::SparseLinearOptions().seed(42));
  nn::SparseLinear f(300, 200, nn::SparseLinearOptions().seed(43));
  CHECK(d.weight().indices().to_vector<int64_t>() == e.weight().indices().to_vector<int64_t>());
  CHECK(d.weight().indices().to_vector<int64_t>() != f.weight().indices().to_vector<int64_t>());
}

// ---- the COO view ---------------------------------------------------------------------------------------

TEST_CASE("SparseWeight: a view of given indices and values, checked before use", "[sparse_linear]") {
  const nn::SparseWeight weight(from_vector<int64_t>({1, 0, 1, 2, 0, 2}, {2, 3}), from_vector<float>({1, 2, 3}, {3}),
                                Shape{2, 3});
  CHECK(weight.nnz() == 3);
  CHECK(weight.to_dense().to_vector<float>() == std::vector<float>{2, 0, 0, 0, 0, 4});  // (1, 2) twice: 1 + 3
  const Tensor values = from_vector<float>({1, 2}, {2});
  WISP_REQUIRE_ERROR(nn::SparseWeight(from_vector<int64_t>({0, 1, 3, 2}, {2, 2}), values, Shape{2, 2}),
                     "SparseWeight: index (0, 3) of nonzero 0 is outside the shape [2, 2]");
  WISP_REQUIRE_ERROR(nn::SparseWeight(from_vector<int64_t>({0, 1000000000, 0, 0}, {2, 2}), values, Shape{2, 2}),
                     "SparseWeight: index (1000000000, 0) of nonzero 1 is outside the shape [2, 2]");
  WISP_REQUIRE_ERROR(nn::SparseWeight(from_vector<int64_t>({0, -1, 0, 0}, {2, 2}), values, Shape{2, 2}),
                     "index (-1, 0) of nonzero 1");
  WISP_REQUIRE_ERROR(nn::SparseWeight(from_vector<int64_t>({0, 1, 0}, {3}), values, Shape{2, 2}),
                     "SparseWeight: expected indices of shape [2, 2] but got [3]");
  WISP_REQUIRE_ERROR(nn::SparseWeight(from_vector<int32_t>({0, 1, 0, 0}, {2, 2}), values, Shape{2, 2}),
                     "SparseWeight: expected indices of dtype int64 but got int32");
  WISP_REQUIRE_ERROR(nn::SparseWeight(from_vector<int64_t>({0, 1, 0, 0}, {2, 2}), zeros({2, 1}), Shape{2, 2}),
                     "SparseWeight: expected 1-D values [nnz] but got shape [2, 1]");
  WISP_REQUIRE_ERROR(nn::SparseWeight(from_vector<int64_t>({0, 1, 0, 0}, {2, 2}), values, Shape{4}),
                     "SparseWeight: expected a 2-D shape [out, in] but got [4]");
}

// ---- printing -----------------------------------------------------------------------------------------

TEST_CASE("SparseLinear: prints like the seed package, and its weight as a COO tensor", "[sparse_linear]") {
  manual_seed(16);
  nn::SparseLinear layer(10, 20);
  CHECK(printed(layer) ==
        "SparseLinear(in_features=10, out_features=20, bias=true, sparsity=0.9, connectivity=random, "
        "small_world=false, dynamic=false)");
  CHECK(printed(nn::SparseLinear(20000, 100, nn::SparseLinearOptions().sparsity(0.99).bias(false))) ==
        "SparseLinear(in_features=20000, out_features=100, bias=false, sparsity=0.99, connectivity=random, "
        "small_world=false, dynamic=false)");
  const std::string weight = printed(layer.weight());
  INFO(weight);
  CHECK(weight.rfind("SparseWeight(indices=tensor([[", 0) == 0);
  CHECK(weight.find("\n             values=tensor([") != std::string::npos);
  CHECK(weight.find("size=[20, 10], nnz=20)") != std::string::npos);
  CHECK(weight.find("requires_grad") == std::string::npos);
  nn::Sequential model(nn::Flatten(), nn::SparseLinear(12, 5), nn::ReLU());
  CHECK(printed(model) ==
        "Sequential(\n"
        "  (0): Flatten(start_dim=1, end_dim=-1)\n"
        "  (1): SparseLinear(in_features=12, out_features=5, bias=true, sparsity=0.9, connectivity=random, "
        "small_world=false, dynamic=false)\n"
        "  (2): ReLU()\n"
        ")");
  CHECK(model.at<nn::SparseLinear>(1).weights().shape() == Shape{6});
}

// ---- errors -------------------------------------------------------------------------------------------

TEST_CASE("SparseLinear: bad arguments throw errors stating expected and actual", "[sparse_linear][errors]") {
  manual_seed(17);
  nn::SparseLinear layer(10, 20);
  WISP_REQUIRE_ERROR(layer(zeros({3, 7})), "SparseLinear: expected input of shape [..., 10]", "[3, 7]");
  WISP_REQUIRE_ERROR(layer(zeros({})), "SparseLinear: expected input of shape [..., 10]", "[]");
  WISP_REQUIRE_ERROR(layer(zeros({2, 10}, DType::Int64)), "expected input of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(nn::SparseLinear(10, 20, nn::SparseLinearOptions().dynamic(true).delta_t(0)),
                     "SparseLinear: expected delta_t >= 1", "but got 0");
  WISP_REQUIRE_ERROR(nn::SparseLinear(10, 20, nn::SparseLinearOptions().dynamic(true).t_end(-1)),
                     "SparseLinear: expected t_end >= 0", "but got -1");
  WISP_REQUIRE_ERROR(nn::SparseLinear(10, 20, nn::SparseLinearOptions().dynamic(true).alpha(1.5)),
                     "SparseLinear: expected alpha (the initial drop fraction) in [0, 1] but got 1.5");
  WISP_REQUIRE_ERROR(nn::SparseLinear(10, 20, nn::SparseLinearOptions().sparsity(1.0)),
                     "SparseLinear: expected sparsity in [0, 1) but got 1");
  WISP_REQUIRE_ERROR(nn::SparseLinear(10, 20, nn::SparseLinearOptions().sparsity(-0.5)), "[0, 1)", "-0.5");
  WISP_REQUIRE_ERROR(nn::SparseLinear(0, 20), "positive in_features and out_features", "0 and 20");
  WISP_REQUIRE_ERROR(nn::SparseLinear(10, 10, nn::SparseLinearOptions().sparsity(0.999)), "sparsity 0.999",
                     "= 0 connections");
  const Tensor connections = from_vector<int64_t>({0, 2005, 1, 3}, {2, 2});
  WISP_REQUIRE_ERROR(nn::SparseLinear(10, 2000, nn::SparseLinearOptions().connectivity(connections)), "row index 2005",
                     "[0, 2000)");
  WISP_REQUIRE_ERROR(nn::SparseLinear(10, 20, nn::SparseLinearOptions().connectivity(connections).small_world(true)),
                     "either a user connectivity or small_world(true)");
  WISP_REQUIRE_ERROR(sparse_linear(zeros({2, 10}), zeros({5}), layer.structure()),
                     "sparse_linear: expected weights of shape [20]", "[5]");
  WISP_REQUIRE_ERROR(sparse_linear(zeros({2, 10}), layer.weights(), layer.structure(), zeros({19})),
                     "expected bias of shape [20]", "[19]");
  WISP_REQUIRE_ERROR(sparse_linear(zeros({2, 10}), layer.weights(), kernels::SparseStructure()),
                     "the sparse structure is empty");
}

TEST_CASE("make_sparse_structure: rejects indices out of range, unsorted or duplicated", "[sparse_linear][errors]") {
  WISP_REQUIRE_ERROR(kernels::make_sparse_structure(from_vector<int64_t>({0, 1, 0, 7}, {2, 2}), 3, 5),
                     "column index 7 of nonzero 1 out of range [0, 5)");
  WISP_REQUIRE_ERROR(kernels::make_sparse_structure(from_vector<int64_t>({3, 0, 0, 0}, {2, 2}), 3, 5),
                     "row index 3 of nonzero 0 out of range [0, 3)");
  WISP_REQUIRE_ERROR(kernels::make_sparse_structure(from_vector<int64_t>({1, 0, 0, 0}, {2, 2}), 3, 5),
                     "sorted by (row, col) without duplicates", "nonzero 1 (0, 0) follows (1, 0)");
  WISP_REQUIRE_ERROR(kernels::make_sparse_structure(from_vector<int64_t>({1, 1, 2, 2}, {2, 2}), 3, 5),
                     "nonzero 1 (1, 2) follows (1, 2)");
  WISP_REQUIRE_ERROR(kernels::make_sparse_structure(zeros({3, 2}, DType::Int64), 3, 5), "[2, nnz]", "[3, 2]");
  WISP_REQUIRE_ERROR(kernels::make_sparse_structure(zeros({2, 2}), 3, 5), "int64", "float32");
}

// ---- devices --------------------------------------------------------------------------------------------

TEST_CASE("SparseLinear: to(Device) keeps the parameters and the structure together", "[sparse_linear]") {
  manual_seed(18);
  nn::SparseLinear layer(30, 20);
  Tensor x = randn({4, 30});
  Tensor before;
  {
    NoGradGuard no_grad;
    before = layer(x);
  }
  layer.to(Device::cpu());
  CHECK(layer.structure().device() == Device::cpu());
  CHECK(layer.weights().device() == Device::cpu());
  NoGradGuard no_grad;
  CHECK(values(layer(x)) == values(before));
}

// ---- training -------------------------------------------------------------------------------------------

TEST_CASE("SparseLinear: the notebook's 'Training with random inputs' reduces both losses",
          "[sparse_linear][training]") {
  manual_seed(19);
  const int64_t N = 64, D_in = 200, H = 1000, D_out = 10;
  Tensor x = randn({N, D_in});
  Tensor y = randn({N, D_out});
  nn::Sequential model_dense(nn::Linear(D_in, H), nn::ReLU(), nn::Linear(H, D_out));
  nn::Sequential model_sparse(nn::SparseLinear(D_in, H), nn::ReLU(), nn::SparseLinear(H, D_out));
  const float learning_rate_dense = 1e-4f, learning_rate_sparse = 1e-3f;
  float first_dense = 0, first_sparse = 0, last_dense = 0, last_sparse = 0;
  for (int t = 0; t < 500; ++t) {
    Tensor loss_dense = mse_loss(model_dense(x), y, Reduction::Sum);
    Tensor loss_sparse = mse_loss(model_sparse(x), y, Reduction::Sum);
    if (t == 0) {
      first_dense = loss_dense.item<float>();
      first_sparse = loss_sparse.item<float>();
    }
    last_dense = loss_dense.item<float>();
    last_sparse = loss_sparse.item<float>();
    model_dense.zero_grad();
    model_sparse.zero_grad();
    loss_dense.backward();
    loss_sparse.backward();
    NoGradGuard no_grad;
    for (Tensor& p : model_dense.parameters()) p.sub_(p.grad() * learning_rate_dense);
    for (Tensor& p : model_sparse.parameters()) p.sub_(p.grad() * learning_rate_sparse);
  }
  INFO("dense " << first_dense << " -> " << last_dense << ", sparse " << first_sparse << " -> " << last_sparse);
  CHECK(first_dense > 100.0f);
  CHECK(first_sparse > 100.0f);
  CHECK(last_dense < 0.01f * first_dense);
  CHECK(last_sparse < 0.01f * first_sparse);
}
