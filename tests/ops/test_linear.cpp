// matmul and linear: forward against hand-computed values and a naive triple-loop reference,
// gradients with check_gradients, gradient values, and argument errors.
#include <cmath>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::require_close;
using wisp::testing::values;

namespace {

// out[i, j] = Σ_p a[i, p] · b[p, j] in double precision, for row-major a [n, k] and b [k, m].
std::vector<float> naive_matmul(const std::vector<float>& a, const std::vector<float>& b, int64_t n, int64_t k,
                                int64_t m) {
  std::vector<float> out(static_cast<size_t>(n * m));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double total = 0;
      for (int64_t p = 0; p < k; ++p) total += static_cast<double>(a[i * k + p]) * b[p * m + j];
      out[i * m + j] = static_cast<float>(total);
    }
  return out;
}

// y[r, o] = Σ_i x[r, i] · w[o, i] + bias[o] (bias may be empty), in double precision.
std::vector<float> naive_linear(const std::vector<float>& x, const std::vector<float>& w,
                                const std::vector<float>& bias, int64_t rows, int64_t in, int64_t out) {
  std::vector<float> y(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double total = bias.empty() ? 0.0 : bias[o];
      for (int64_t i = 0; i < in; ++i) total += static_cast<double>(x[r * in + i]) * w[o * in + i];
      y[r * out + o] = static_cast<float>(total);
    }
  return y;
}

Tensor matmul_of(const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }

}  // namespace

// ---- matmul ------------------------------------------------------------------------------------

TEST_CASE("matmul: 2-D x 2-D matches hand-computed values", "[matmul]") {
  Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector<float>({7, 8, 9, 10, 11, 12}, {3, 2});
  Tensor c = matmul(a, b);
  REQUIRE(c.shape() == Shape{2, 2});
  REQUIRE(values(c) == std::vector<float>{58, 64, 139, 154});
  // The Tensor method is the same op.
  REQUIRE(values(a.matmul(b)) == std::vector<float>{58, 64, 139, 154});
}

TEST_CASE("matmul: 1-D x 1-D is a dot product with a 0-dimensional result", "[matmul]") {
  Tensor c = matmul(from_vector<float>({1, 2, 3}), from_vector<float>({4, -5, 6}));
  REQUIRE(c.shape() == Shape{});
  REQUIRE(c.item<float>() == 12.0f);
}

TEST_CASE("matmul: 1-D x 2-D and 2-D x 1-D drop the vector's dimension", "[matmul]") {
  Tensor m = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor row = matmul(from_vector<float>({1, 2}), m);  // [2] x [2, 3] -> [3]
  REQUIRE(row.shape() == Shape{3});
  REQUIRE(values(row) == std::vector<float>{9, 12, 15});
  Tensor column = matmul(m, from_vector<float>({1, 0, -1}));  // [2, 3] x [3] -> [2]
  REQUIRE(column.shape() == Shape{2});
  REQUIRE(values(column) == std::vector<float>{-2, -2});
}

TEST_CASE("matmul: random 2-D shapes match a naive triple loop", "[matmul]") {
  manual_seed(11);
  // Small shapes take Eigen's coefficient path; the larger ones its blocked, multithreaded GEMM.
  const auto [n, k, m] = GENERATE(
      table<int64_t, int64_t, int64_t>({{1, 1, 1}, {3, 5, 2}, {7, 1, 9}, {17, 33, 5}, {64, 130, 70}, {129, 257, 65}}));
  INFO("n=" << n << " k=" << k << " m=" << m);
  Tensor a = randn({n, k}), b = randn({k, m});
  Tensor c = matmul(a, b);
  REQUIRE(c.shape() == Shape{n, m});
  require_close(c, from_vector(naive_matmul(values(a), values(b), n, k, m), {n, m}), 1e-4f);
}

TEST_CASE("matmul: N-D x 2-D and N-D x 1-D fold the batch dimensions into rows", "[matmul]") {
  manual_seed(12);
  Tensor a = randn({2, 3, 4}), b = randn({4, 5}), v = randn({4});
  Tensor c = matmul(a, b);
  REQUIRE(c.shape() == Shape{2, 3, 5});
  require_close(c, from_vector(naive_matmul(values(a), values(b), 6, 4, 5), {2, 3, 5}), 1e-5f);
  Tensor d = matmul(a, v);
  REQUIRE(d.shape() == Shape{2, 3});
  require_close(d, from_vector(naive_matmul(values(a), values(v), 6, 4, 1), {2, 3}), 1e-5f);
  Tensor e = matmul(randn({2, 1, 3, 4}), b);
  REQUIRE(e.shape() == Shape{2, 1, 3, 5});
}

TEST_CASE("matmul: an empty inner dimension gives zeros", "[matmul]") {
  Tensor c = matmul(zeros({2, 0}), zeros({0, 3}));
  REQUIRE(c.shape() == Shape{2, 3});
  REQUIRE(values(c) == std::vector<float>(6, 0.0f));
}

TEST_CASE("matmul: gradients match finite differences for every supported shape pair", "[matmul][gradients]") {
  manual_seed(13);
  WISP_REQUIRE_GRADIENTS(matmul_of, (std::vector<Tensor>{randn({3, 4}), randn({4, 2})}));
  WISP_REQUIRE_GRADIENTS(matmul_of, (std::vector<Tensor>{randn({5}), randn({5})}));
  WISP_REQUIRE_GRADIENTS(matmul_of, (std::vector<Tensor>{randn({4}), randn({4, 3})}));
  WISP_REQUIRE_GRADIENTS(matmul_of, (std::vector<Tensor>{randn({3, 4}), randn({4})}));
  WISP_REQUIRE_GRADIENTS(matmul_of, (std::vector<Tensor>{randn({2, 3, 4}), randn({4, 2})}));
  WISP_REQUIRE_GRADIENTS(matmul_of, (std::vector<Tensor>{randn({2, 3, 4}), randn({4})}));
}

TEST_CASE("matmul: backward gives g·bᵀ and aᵀ·g, only to operands that require grad", "[matmul][gradients]") {
  Tensor a = from_vector<float>({1, 2, 3, 4}, {2, 2}).set_requires_grad(true);
  Tensor b = from_vector<float>({5, 6, 7, 8}, {2, 2});
  Tensor c = matmul(a, b);
  REQUIRE(c.grad_fn_name() == "MatmulBackward");
  c.backward(ones({2, 2}));
  // d/da of Σ (a·b) = 1 · bᵀ: row sums of b for each column of a.
  REQUIRE(values(a.grad()) == std::vector<float>{11, 15, 11, 15});
  REQUIRE_FALSE(b.grad().defined());

  Tensor a2 = from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor b2 = from_vector<float>({5, 6, 7, 8}, {2, 2}).set_requires_grad(true);
  matmul(a2, b2).backward(ones({2, 2}));
  // aᵀ · 1: column sums of a for each row of b.
  REQUIRE(values(b2.grad()) == std::vector<float>{4, 4, 6, 6});
}

TEST_CASE("matmul: bad arguments throw errors naming the shapes and dtypes", "[matmul][errors]") {
  WISP_REQUIRE_ERROR(matmul(zeros({2, 3}), zeros({4, 5})),
                     "matmul: shapes [2, 3] and [4, 5] cannot be multiplied (3 != 4)");
  WISP_REQUIRE_ERROR(matmul(zeros({3}), zeros({4})), "matmul: shapes [3] and [4] cannot be multiplied (3 != 4)");
  WISP_REQUIRE_ERROR(matmul(zeros({2, 3, 4}), zeros({2, 5})), "[2, 3, 4] and [2, 5]", "(4 != 2)");
  WISP_REQUIRE_ERROR(matmul(zeros({2, 3, 4}), zeros({2, 4, 5})),
                     "matmul: shapes [2, 3, 4] and [2, 4, 5] are not supported");
  WISP_REQUIRE_ERROR(matmul(zeros({4}), zeros({2, 4, 5})), "[4] and [2, 4, 5] are not supported");
  WISP_REQUIRE_ERROR(matmul(zeros({}), zeros({3})), "at least 1 dimension", "[] and [3]");
  WISP_REQUIRE_ERROR(matmul(zeros({2, 2}, DType::Int64), zeros({2, 2})),
                     "matmul: expected the first operand of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(matmul(zeros({2, 2}), zeros({2, 2}, DType::Int32)),
                     "matmul: expected the second operand of dtype float32 but got int32");
  WISP_REQUIRE_ERROR(matmul(Tensor(), zeros({2, 2})), "matmul: expected the first operand to be a defined tensor");
  WISP_REQUIRE_ERROR(matmul(zeros({2, 2}), Tensor()), "matmul: expected the second operand to be a defined tensor");
}

// ---- linear ------------------------------------------------------------------------------------

TEST_CASE("linear: y = x·Wᵀ + b matches hand-computed values", "[linear]") {
  Tensor x = from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor w = from_vector<float>({1, 0, 0, 1, 1, 1}, {3, 2});
  Tensor b = from_vector<float>({10, 20, 30});
  Tensor y = linear(x, w, b);
  REQUIRE(y.shape() == Shape{2, 3});
  REQUIRE(values(y) == std::vector<float>{11, 22, 33, 13, 24, 37});
  REQUIRE(values(linear(x, w)) == std::vector<float>{1, 2, 3, 3, 4, 7});
}

TEST_CASE("linear: 1-D, 2-D and 3-D inputs, with and without bias, match a naive reference", "[linear]") {
  manual_seed(21);
  const int64_t in = 7, out = 5;
  Tensor w = randn({out, in}), b = randn({out});
  const Shape input_shape = GENERATE(Shape{7}, Shape{4, 7}, Shape{2, 3, 7}, Shape{0, 7});
  const bool with_bias = GENERATE(true, false);
  INFO("input " << input_shape << (with_bias ? " with bias" : " without bias"));
  Tensor x = randn(input_shape);
  Tensor y = linear(x, w, with_bias ? b : Tensor());
  std::vector<int64_t> out_dims(input_shape.begin(), input_shape.end() - 1);
  out_dims.push_back(out);
  const int64_t rows = x.numel() / in;
  require_close(
      y,
      from_vector(naive_linear(values(x), values(w), with_bias ? values(b) : std::vector<float>{}, rows, in, out),
                  Shape(out_dims)),
      1e-5f);
}

TEST_CASE("linear: MNIST-sized products match the reference", "[linear]") {
  manual_seed(22);
  // The hot path of MNIST training: [64, 784] x [2000, 784]ᵀ, then [64, 2000] x [10, 2000]ᵀ.
  Tensor x = randn({64, 784}), w1 = randn({2000, 784}) * 0.05, b1 = randn({2000});
  Tensor h = linear(x, w1, b1);
  REQUIRE(h.shape() == Shape{64, 2000});
  // Spot-check a spread of elements against the naive sum (all of them would be slow under ASan).
  const std::vector<float> xs = values(x), ws = values(w1), bs = values(b1), hs = values(h);
  for (int64_t r = 0; r < 64; r += 9) {
    for (int64_t o = 0; o < 2000; o += 97) {
      double expected = bs[o];
      for (int64_t i = 0; i < 784; ++i) expected += static_cast<double>(xs[r * 784 + i]) * ws[o * 784 + i];
      INFO("row " << r << " output " << o);
      REQUIRE(std::abs(hs[r * 2000 + o] - expected) <= 1e-3 * (1 + std::abs(expected)));
    }
  }
  Tensor w2 = randn({10, 2000}) * 0.02;
  Tensor logits = linear(h, w2);
  REQUIRE(logits.shape() == Shape{64, 10});
  require_close(logits, from_vector(naive_linear(hs, values(w2), {}, 64, 2000, 10), {64, 10}), 1e-4f);
}

TEST_CASE("linear: gradients match finite differences", "[linear][gradients]") {
  manual_seed(23);
  const Shape input_shape = GENERATE(Shape{4}, Shape{3, 4}, Shape{2, 2, 4});
  INFO("input " << input_shape);
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                         (std::vector<Tensor>{randn(input_shape), randn({3, 4}), randn({3})}));
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); },
                         (std::vector<Tensor>{randn(input_shape), randn({3, 4})}));
}

TEST_CASE("linear: backward values, computed only for inputs that require grad", "[linear][gradients]") {
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor w = from_vector<float>({1, -1, 2, 0, 3, 1}, {2, 3}).set_requires_grad(true);
  Tensor b = from_vector<float>({0.5f, -0.5f}).set_requires_grad(true);
  Tensor y = linear(x, w, b);
  REQUIRE(y.grad_fn_name() == "LinearBackward");
  y.sum().backward();
  // d Σy / dW[o, i] = Σ_r x[r, i]; d Σy / db[o] = rows.
  REQUIRE(values(w.grad()) == std::vector<float>{5, 7, 9, 5, 7, 9});
  REQUIRE(values(b.grad()) == std::vector<float>{2, 2});
  REQUIRE_FALSE(x.grad().defined());

  Tensor x2 = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}).set_requires_grad(true);
  Tensor w2 = from_vector<float>({1, -1, 2, 0, 3, 1}, {2, 3});
  linear(x2, w2).backward(from_vector<float>({1, 2, -1, 1}, {2, 2}));
  // grad_x = g · W: row 0 = 1·[1, -1, 2] + 2·[0, 3, 1]; row 1 = -1·[1, -1, 2] + 1·[0, 3, 1].
  REQUIRE(values(x2.grad()) == std::vector<float>{1, 5, 4, -1, 4, -1});
  REQUIRE_FALSE(w2.grad().defined());
}

TEST_CASE("linear: bias gradient over many rows sums every column", "[linear][gradients]") {
  // Enough elements for the parallel column sums.
  Tensor x = ones({300, 8});
  Tensor w = zeros({500, 8});
  Tensor b = zeros({500}).set_requires_grad(true);
  Tensor g = from_vector(std::vector<float>(300 * 500, 0.25f), {300, 500});
  linear(x, w, b).backward(g);
  REQUIRE(values(b.grad()) == std::vector<float>(500, 75.0f));
}

TEST_CASE("linear: bad arguments throw errors stating expected and actual", "[linear][errors]") {
  WISP_REQUIRE_ERROR(linear(zeros({64, 785}), zeros({2000, 784})),
                     "linear: expected input with last dimension 784 (weight is [2000, 784]) but got shape [64, 785]");
  WISP_REQUIRE_ERROR(linear(zeros({5}), zeros({3, 4})), "last dimension 4", "got shape [5]");
  WISP_REQUIRE_ERROR(linear(zeros({2, 4}), zeros({4})), "linear: expected a 2-D weight", "got shape [4]");
  WISP_REQUIRE_ERROR(linear(zeros({2, 4}), zeros({3, 4}), zeros({4})),
                     "linear: expected bias of shape [3] (weight is [3, 4]) but got shape [4]");
  WISP_REQUIRE_ERROR(linear(zeros({2, 4}), zeros({3, 4}), zeros({1, 3})), "bias of shape [3]", "[1, 3]");
  WISP_REQUIRE_ERROR(linear(zeros({}), zeros({3, 4})), "linear: expected input of shape [..., 4]", "0-dimensional");
  WISP_REQUIRE_ERROR(linear(zeros({2, 4}, DType::Int64), zeros({3, 4})),
                     "linear: expected input of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(linear(zeros({2, 4}), zeros({3, 4}, DType::UInt8)),
                     "linear: expected weight of dtype float32 but got uint8");
  WISP_REQUIRE_ERROR(linear(zeros({2, 4}), zeros({3, 4}), zeros({3}, DType::Int64)),
                     "linear: expected bias of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(linear(zeros({2, 4}), Tensor()), "linear: expected weight to be a defined tensor");
  WISP_REQUIRE_ERROR(linear(Tensor(), zeros({3, 4})), "linear: expected input to be a defined tensor");
}

TEST_CASE("matmul and linear: mixed devices are an error naming both", "[linear][errors]") {
  if (!cuda::is_available()) {
    WARN("no GPU: the mixed-device checks need a CUDA tensor and are not exercised in this run");
    return;
  }
  Tensor on_gpu = zeros({3, 4}, Device::cuda(0));
  WISP_REQUIRE_ERROR(matmul(zeros({2, 3}), on_gpu), "matmul: expected all tensors on the same device", "cpu", "cuda:0");
  WISP_REQUIRE_ERROR(linear(zeros({2, 4}), on_gpu), "linear: expected all tensors on the same device", "cpu", "cuda:0");
  WISP_REQUIRE_ERROR(linear(zeros({2, 4}), zeros({3, 4}), zeros({3}, Device::cuda(0))), "linear", "cuda:0");
}
