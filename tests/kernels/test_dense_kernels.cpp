// The CPU dense products behind kernels/linear.h (matmul, linear forward and backward) against a
// naive reference, for shapes the kernels split by rows and by columns over every thread count up to
// the usable cores, uneven sizes included.
#include <algorithm>
#include <array>

#include "test_helpers.h"
#include "wisp/kernels/linear.h"

using namespace wisp;
using wisp::testing::require_close;
using wisp::testing::values;

namespace {

// op(a) · op(b) in double, as a float tensor.
Tensor reference_product(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  const std::vector<float> av = values(a), bv = values(b);
  const int64_t n = transpose_a ? a.size(1) : a.size(0), k = transpose_a ? a.size(0) : a.size(1);
  const int64_t m = transpose_b ? b.size(0) : b.size(1);
  std::vector<float> out(static_cast<size_t>(n * m));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double total = 0;
      for (int64_t p = 0; p < k; ++p) {
        const float left = transpose_a ? av[static_cast<size_t>(p * n + i)] : av[static_cast<size_t>(i * k + p)];
        const float right = transpose_b ? bv[static_cast<size_t>(j * k + p)] : bv[static_cast<size_t>(p * m + j)];
        total += static_cast<double>(left) * right;
      }
      out[static_cast<size_t>(i * m + j)] = static_cast<float>(total);
    }
  return from_vector(out, {n, m});
}

// The thread counts to try: 1 to the usable cores (at most 4); restores the count afterwards.
template <class Check>
void for_each_thread_count(Check check) {
  const int previous = get_num_threads();
  for (int threads = 1; threads <= std::min(4, usable_cores()); ++threads) {
    set_num_threads(threads);
    INFO("threads " << threads);
    check();
  }
  set_num_threads(previous);
}

}  // namespace

TEST_CASE("dense matmul matches the reference, split by rows or by columns", "[dense_kernels]") {
  manual_seed(3);
  // [n, k] x [k, m]: tall outputs are split by rows, wide ones by columns; 203 and 37 are uneven.
  const std::vector<std::array<int64_t, 3>> shapes = {{203, 300, 37}, {37, 300, 203}, {5, 7, 3}};
  for (const auto& [n, k, m] : shapes)
    for (bool transpose_a : {false, true})
      for (bool transpose_b : {false, true}) {
        INFO("n " << n << ", k " << k << ", m " << m << ", transpose_a " << transpose_a << ", transpose_b "
                  << transpose_b);
        const Tensor a = transpose_a ? randn({k, n}) : randn({n, k});
        const Tensor b = transpose_b ? randn({m, k}) : randn({k, m});
        const Tensor expected = reference_product(a, b, transpose_a, transpose_b);
        for_each_thread_count([&] {
          const Tensor out = kernels::matmul(a, b, transpose_a, transpose_b);
          require_close(out, expected, 1e-4f);
          CHECK(values(kernels::matmul(a, b, transpose_a, transpose_b)) == values(out));  // reproducible
        });
      }
}

TEST_CASE("dense linear forward (bias fused per block) and backward match the reference", "[dense_kernels]") {
  manual_seed(4);
  // rows x in -> out: a wide output (split by columns) and a tall one (split by rows).
  const std::vector<std::array<int64_t, 3>> shapes = {{64, 300, 700}, {300, 200, 10}, {3, 5, 2}};
  for (const auto& [rows, in, out] : shapes) {
    INFO("rows " << rows << ", in " << in << ", out " << out);
    const Tensor x = randn({rows, in}), weight = randn({out, in}), bias = randn({out});
    const Tensor grad_output = randn({rows, out});
    const std::vector<float> b = values(bias);
    Tensor expected = reference_product(x, weight, false, true);
    std::vector<float> with_bias = values(expected);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o) with_bias[static_cast<size_t>(r * out + o)] += b[static_cast<size_t>(o)];
    const Tensor expected_with_bias = from_vector(with_bias, {rows, out});
    const Tensor expected_grad_input = reference_product(grad_output, weight, false, false);
    const Tensor expected_grad_weight = reference_product(grad_output, x, true, false);
    for_each_thread_count([&] {
      require_close(kernels::linear_forward(x, weight, bias), expected_with_bias, 1e-4f);
      require_close(kernels::linear_forward(x, weight, Tensor()), expected, 1e-4f);
      const kernels::LinearGradients gradients = kernels::linear_backward(grad_output, x, weight, true, true, false);
      require_close(gradients.input, expected_grad_input, 1e-4f);
      require_close(gradients.weight, expected_grad_weight, 1e-4f);
    });
  }
}
