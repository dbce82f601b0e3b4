// bernoulli and dropout: reproducible draws (seed, thread count), frequencies, dropout's scaling,
// modes and gradient, errors.
#include <cmath>
#include <vector>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::values;

TEST_CASE("bernoulli draws 0 or 1 with the given probabilities, reproducibly", "[ops][random]") {
  manual_seed(5);
  const Tensor p = full({20000}, 0.3);
  const Tensor first = bernoulli(p);
  CHECK(first.dtype() == DType::Float32);
  CHECK(first.shape() == p.shape());
  const std::vector<float> draws = values(first);
  double ones_count = 0;
  for (float v : draws) {
    REQUIRE((v == 0.0f || v == 1.0f));
    ones_count += v;
  }
  // 20000 draws at 0.3: standard deviation 65, so 6000 ± 400 is a 6-sigma band.
  CHECK(std::abs(ones_count - 6000.0) < 400.0);
  const Tensor second = bernoulli(p);
  CHECK(values(second) != draws);  // the generator moved on
  manual_seed(5);
  CHECK(values(bernoulli(p)) == draws);  // same seed, same numbers
  // Probabilities 0 and 1 are never and always 1; per-element probabilities.
  const std::vector<float> edges = values(bernoulli(from_vector(std::vector<float>{0, 1, 0, 1})));
  CHECK(edges == std::vector<float>{0, 1, 0, 1});
}

TEST_CASE("bernoulli numbers do not depend on the thread count", "[ops][random]") {
  const int threads = get_num_threads();
  const Tensor p = full({100000}, 0.5);  // above the parallel threshold
  manual_seed(6);
  set_num_threads(1);
  const std::vector<float> serial = values(bernoulli(p));
  const std::vector<float> serial_scalar = values(bernoulli(p, 0.25));
  manual_seed(6);
  set_num_threads(2);
  const std::vector<float> parallel = values(bernoulli(p));
  const std::vector<float> parallel_scalar = values(bernoulli(p, 0.25));
  set_num_threads(threads);
  CHECK(serial == parallel);
  CHECK(serial_scalar == parallel_scalar);
}

TEST_CASE("bernoulli with a scalar probability takes the input's shape and dtype", "[ops][random]") {
  manual_seed(7);
  const Tensor like = zeros({50, 400}, DType::Int64);
  const Tensor draws = bernoulli(like, 0.75);
  CHECK(draws.dtype() == DType::Int64);
  CHECK(draws.shape() == like.shape());
  const int64_t count = draws.sum().item<int64_t>();
  CHECK(std::abs(count - 15000) < 400);  // 20000 draws at 0.75: sigma 61
  Generator generator(99);
  const std::vector<float> own = values(bernoulli(zeros({64}), 0.5, generator));
  generator.set_seed(99);
  CHECK(values(bernoulli(zeros({64}), 0.5, generator)) == own);
}

TEST_CASE("bernoulli errors name the probabilities", "[ops][random]") {
  WISP_REQUIRE_ERROR(bernoulli(from_vector(std::vector<float>{0.5f, 1.5f, -0.1f})),
                     "bernoulli: expected probabilities in [0, 1] but 2 of the 3 are not");
  WISP_REQUIRE_ERROR(bernoulli(from_vector(std::vector<float>{std::nanf("")})), "bernoulli", "1 of the 1 are not");
  WISP_REQUIRE_ERROR(bernoulli(zeros({2}, DType::Int64)),
                     "bernoulli: expected probabilities of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(bernoulli(zeros({2}), 1.5), "bernoulli: expected p in [0, 1] but got 1.5");
}

TEST_CASE("dropout zeroes with probability p and scales the rest by 1 / (1 - p)", "[ops][random]") {
  manual_seed(8);
  const Tensor x = full({40000}, 2.0);
  const std::vector<float> y = values(dropout(x, 0.2));
  double zeros_count = 0, total = 0;
  for (float v : y) {
    REQUIRE((v == 0.0f || v == 2.5f));
    zeros_count += v == 0.0f;
    total += v;
  }
  CHECK(std::abs(zeros_count - 8000.0) < 480.0);  // 40000 draws at 0.2: sigma 80
  CHECK(std::abs(total / 40000.0 - 2.0) < 0.05);  // the expected value is kept
  // Evaluation and p = 0 give the input itself; p = 1 zeros.
  CHECK(dropout(x, 0.2, false).impl() == x.impl());
  CHECK(dropout(x, 0.0).impl() == x.impl());
  CHECK(values(dropout(x, 1.0)) == std::vector<float>(40000, 0.0f));
}

TEST_CASE("dropout's gradient goes through the same mask and scale", "[ops][random]") {
  manual_seed(9);
  Tensor x = randn({8, 16}).set_requires_grad(true);
  const Tensor y = dropout(x, 0.5);
  const Tensor g = randn({8, 16});
  y.backward(g);
  const std::vector<float> out = values(y), input = values(x), grad = values(g), grad_input = values(x.grad());
  for (size_t i = 0; i < out.size(); ++i) {
    const bool kept = out[i] != 0.0f;
    CHECK(grad_input[i] == (kept ? grad[i] * 2.0f : 0.0f));
    if (kept) CHECK(out[i] == input[i] * 2.0f);
  }
  // check_gradients evaluates the function many times: each evaluation must draw the same mask.
  WISP_REQUIRE_GRADIENTS(
      [](const std::vector<Tensor>& in) {
        Generator generator(3);
        return dropout(in[0], 0.3, true, generator);
      },
      {randn({4, 5})});
}

TEST_CASE("dropout errors", "[ops][random]") {
  WISP_REQUIRE_ERROR(dropout(zeros({2}), 1.5), "dropout: expected p in [0, 1] but got 1.5");
  WISP_REQUIRE_ERROR(dropout(zeros({2}), -0.1), "dropout: expected p in [0, 1] but got -0.1");
  WISP_REQUIRE_ERROR(dropout(zeros({2}, DType::Int64)), "dropout: expected input of dtype float32 but got int64");
}
