// softmax, log_softmax, cross_entropy and mse_loss: forward by hand, against double-precision references
// and PyTorch; gradients; every reduction; errors.
#include <cmath>
#include <limits>

#include "reference/layer_norm_loss_golden.h"
#include "test_helpers.h"

using namespace wisp;
using wisp::testing::require_close;
using wisp::testing::values;

namespace {

using Function = std::function<Tensor(const std::vector<Tensor>&)>;

// log_softmax of x viewed as [outer, size, inner] over `size`, in double.
std::vector<double> reference_log_softmax(const std::vector<float>& x, int64_t outer, int64_t size, int64_t inner) {
  std::vector<double> out(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t s) { return static_cast<size_t>((o * size + s) * inner + i); };
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t s = 0; s < size; ++s) max = std::max(max, static_cast<double>(x[at(s)]));
      double sum = 0;
      for (int64_t s = 0; s < size; ++s) sum += std::exp(x[at(s)] - max);
      for (int64_t s = 0; s < size; ++s) out[at(s)] = x[at(s)] - max - std::log(sum);
    }
  return out;
}

// REQUIRE |actual − expected| <= tolerance · (1 + |expected|) everywhere; reports the worst element.
void require_close_to(const std::vector<float>& actual, const std::vector<double>& expected, double tolerance) {
  REQUIRE(actual.size() == expected.size());
  if (actual.empty()) return;
  size_t worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double excess = std::abs(actual[i] - expected[i]) - tolerance * (1.0 + std::abs(expected[i]));
    if (std::isnan(excess)) {
      worst_excess = excess;
      worst = i;
      break;
    }
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  INFO("worst element " << worst << ": " << actual[worst] << " vs " << expected[worst]);
  REQUIRE(worst_excess <= 0);  // false for NaN
}

Tensor golden_tensor(const std::vector<float>& data, const Shape& shape) { return from_vector(data, shape); }

Tensor int64_tensor(const std::vector<int64_t>& data) { return from_vector(data); }

const Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

const char* reduction_name(Reduction reduction) {
  switch (reduction) {
    case Reduction::None:
      return "none";
    case Reduction::Mean:
      return "mean";
    case Reduction::Sum:
      return "sum";
  }
  return "?";
}

}  // namespace

// ---- log_softmax ------------------------------------------------------------------------------------

TEST_CASE("log_softmax of a small vector by hand", "[layers][log_softmax]") {
  // log(e + e² + e³) = 3.40760596...
  const float log_sum = 3.40760596444438f;
  Tensor x = from_vector(std::vector<float>{1, 2, 3});
  require_close(log_softmax(x, 0), from_vector(std::vector<float>{1 - log_sum, 2 - log_sum, 3 - log_sum}), 1e-6f);
  require_close(x.log_softmax(-1), log_softmax(x, 0), 0.0f);

  // Stable for large logits: shifting every logit changes nothing, and nothing overflows.
  Tensor large = from_vector(std::vector<float>{1000, 1001, 1002});
  require_close(log_softmax(large, 0), log_softmax(x, 0), 1e-6f);
  Tensor spread = from_vector(std::vector<float>{-1000, 0});
  CHECK(values(log_softmax(spread, 0)) == std::vector<float>{-1000, 0});

  // Over the rows of a matrix (dim 0) and over its columns (dim 1).
  Tensor m = from_vector(std::vector<float>{1, 2, 3, 1, 1, 1}, {2, 3});
  const float log3 = std::log(3.0f);
  require_close(log_softmax(m, 1),
                from_vector(std::vector<float>{1 - log_sum, 2 - log_sum, 3 - log_sum, -log3, -log3, -log3}, {2, 3}),
                1e-6f);
  const float log_two = std::log(2.0f), log_1_e = std::log(1 + std::exp(1.0f)), log_1_e2 = std::log(1 + std::exp(2.0f));
  require_close(
      log_softmax(m, 0),
      from_vector(std::vector<float>{-log_two, 1 - log_1_e, 2 - log_1_e2, -log_two, -log_1_e, -log_1_e2}, {2, 3}),
      1e-6f);

  // A 0-dimensional tensor is one element: log_softmax is 0.
  Tensor scalar = full({}, 4.0);
  CHECK(log_softmax(scalar, 0).dim() == 0);
  CHECK(log_softmax(scalar, -1).item<float>() == 0.0f);
}

TEST_CASE("log_softmax matches a double-precision reference over every dimension", "[layers][log_softmax]") {
  manual_seed(2);
  for (const Shape& shape :
       {Shape{9}, Shape{5, 7}, Shape{3, 4, 5}, Shape{2, 3, 4, 5}, Shape{40, 1000, 2}, Shape{128, 1000}}) {
    Tensor x = randn(shape) * 4.0;
    for (int64_t dim = -1; dim < x.dim(); ++dim) {
      INFO("shape " << shape << ", dim " << dim);
      const int64_t d = dim < 0 ? dim + x.dim() : dim;
      int64_t outer = 1, inner = 1;
      for (int64_t k = 0; k < d; ++k) outer *= shape[static_cast<size_t>(k)];
      for (int64_t k = d + 1; k < x.dim(); ++k) inner *= shape[static_cast<size_t>(k)];
      require_close_to(values(log_softmax(x, dim)),
                       reference_log_softmax(values(x), outer, shape[static_cast<size_t>(d)], inner), 1e-5);
    }
  }
}

TEST_CASE("log_softmax backward is g - exp(output) * sum(g)", "[layers][log_softmax]") {
  manual_seed(4);
  Tensor x = randn({3, 6}).set_requires_grad(true);
  Tensor g = randn({3, 6});
  Tensor y = log_softmax(x, 1);
  CHECK(y.grad_fn_name() == "LogSoftmaxBackward");
  y.backward(g);
  const std::vector<float> out = values(y), grad = values(g), actual = values(x.grad());
  for (int64_t r = 0; r < 3; ++r) {
    double sum = 0;
    for (int64_t c = 0; c < 6; ++c) sum += grad[static_cast<size_t>(r * 6 + c)];
    for (int64_t c = 0; c < 6; ++c) {
      const size_t k = static_cast<size_t>(r * 6 + c);
      CHECK(actual[k] == Approx(grad[k] - std::exp(out[k]) * sum).margin(1e-5));
    }
  }
}

TEST_CASE("log_softmax gradients", "[layers][log_softmax]") {
  manual_seed(8);
  for (int64_t dim : {0, 1, 2, -1}) {
    INFO("dim " << dim);
    const Function function = [dim](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); };
    const std::vector<Tensor> inputs{randn({2, 3, 4}) * 2.0};
    WISP_REQUIRE_GRADIENTS(function, inputs);
  }
  const Function vector_function = [](const std::vector<Tensor>& in) { return in[0].log_softmax(0); };
  const std::vector<Tensor> vector_input{randn({5})};
  WISP_REQUIRE_GRADIENTS(vector_function, vector_input);
  const Function matrix_function = [](const std::vector<Tensor>& in) { return log_softmax(in[0], 1); };
  const std::vector<Tensor> matrix_input{randn({4, 7})};
  WISP_REQUIRE_GRADIENTS(matrix_function, matrix_input);
}

TEST_CASE("log_softmax matches PyTorch", "[layers][log_softmax]") {
  Tensor x = golden_tensor(golden::log_softmax_input, {2, 3, 4}).set_requires_grad(true);
  Tensor y = log_softmax(x, 1);
  require_close(y, golden_tensor(golden::log_softmax_output, {2, 3, 4}), 1e-5f);
  y.backward(golden_tensor(golden::log_softmax_grad_output, {2, 3, 4}));
  require_close(x.grad(), golden_tensor(golden::log_softmax_grad_input, {2, 3, 4}), 1e-5f);
}

TEST_CASE("log_softmax with NaN or infinite input does not crash", "[layers][log_softmax]") {
  Tensor x = from_vector(std::vector<float>{1, NAN, 3, 1, 2, 3}, {2, 3});
  const std::vector<float> out = values(log_softmax(x, 1));
  for (int i = 0; i < 3; ++i) CHECK(std::isnan(out[static_cast<size_t>(i)]));
  CHECK(out[5] == Approx(3 - 3.40760596).margin(1e-6));
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> with_minus_inf = values(log_softmax(from_vector(std::vector<float>{-inf, 0}), 0));
  CHECK(with_minus_inf == std::vector<float>{-inf, 0});
}

TEST_CASE("log_softmax errors", "[layers][log_softmax]") {
  WISP_REQUIRE_ERROR(log_softmax(zeros({2, 3}), 2), "log_softmax", "got 2");
  WISP_REQUIRE_ERROR(log_softmax(zeros({2, 3}), -3), "log_softmax", "got -3");
  WISP_REQUIRE_ERROR(log_softmax(zeros({2, 3}, DType::Int64), 1), "log_softmax: expected input of dtype float32",
                     "int64");
}

// ---- softmax -----------------------------------------------------------------------------------------

TEST_CASE("softmax by hand, stable for large logits, equal to exp(log_softmax)", "[layers][softmax]") {
  // e^k / (e + e² + e³) for k = 1, 2, 3.
  const double total = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const Tensor x = from_vector(std::vector<float>{1, 2, 3});
  require_close_to(values(softmax(x, 0)), {std::exp(1.0) / total, std::exp(2.0) / total, std::exp(3.0) / total}, 1e-6);
  CHECK(values(x.softmax(-1)) == values(softmax(x, 0)));
  // Shifting every logit changes nothing; nothing overflows.
  require_close(softmax(from_vector(std::vector<float>{1000, 1001, 1002}), 0), softmax(x, 0), 1e-6f);
  CHECK(values(softmax(from_vector(std::vector<float>{-1000, 0}), 0)) == std::vector<float>{0, 1});
  // Rows of a matrix and its columns; each slice sums to 1.
  const Tensor m = from_vector(std::vector<float>{1, 2, 3, 1, 1, 1}, {2, 3});
  require_close(softmax(m, 1), exp(log_softmax(m, 1)), 1e-6f);
  require_close(softmax(m, 0), exp(log_softmax(m, 0)), 1e-6f);
  require_close(softmax(m, 0).sum(0), ones({3}), 1e-6f);
  CHECK(softmax(full({}, 4.0), 0).item<float>() == 1.0f);  // one element
  CHECK(softmax(zeros({0, 3}), 1).shape() == Shape{0, 3});
}

TEST_CASE("softmax matches exp(log_softmax) over every dimension", "[layers][softmax]") {
  manual_seed(21);
  for (const Shape& shape : {Shape{9}, Shape{5, 7}, Shape{3, 4, 5}, Shape{40, 1000, 2}, Shape{128, 1000}}) {
    const Tensor x = randn(shape) * 4.0;
    for (int64_t dim = -1; dim < x.dim(); ++dim) {
      INFO("shape " << shape << ", dim " << dim);
      const int64_t d = dim < 0 ? dim + x.dim() : dim;
      int64_t outer = 1, inner = 1;
      for (int64_t k = 0; k < d; ++k) outer *= shape[static_cast<size_t>(k)];
      for (int64_t k = d + 1; k < x.dim(); ++k) inner *= shape[static_cast<size_t>(k)];
      std::vector<double> expected = reference_log_softmax(values(x), outer, shape[static_cast<size_t>(d)], inner);
      for (double& v : expected) v = std::exp(v);
      require_close_to(values(softmax(x, dim)), expected, 1e-6);
    }
  }
}

TEST_CASE("softmax backward is y * (g - sum(g * y)) and passes check_gradients", "[layers][softmax]") {
  manual_seed(22);
  Tensor x = randn({3, 6}).set_requires_grad(true);
  const Tensor g = randn({3, 6});
  const Tensor y = softmax(x, 1);
  CHECK(y.grad_fn_name() == "SoftmaxBackward");
  y.backward(g);
  const std::vector<float> out = values(y), grad = values(g), actual = values(x.grad());
  for (int64_t r = 0; r < 3; ++r) {
    double dot = 0;
    for (int64_t c = 0; c < 6; ++c)
      dot += double(grad[static_cast<size_t>(r * 6 + c)]) * out[static_cast<size_t>(r * 6 + c)];
    for (int64_t c = 0; c < 6; ++c) {
      const size_t k = static_cast<size_t>(r * 6 + c);
      CHECK(actual[k] == Approx(out[k] * (grad[k] - dot)).margin(1e-6));
    }
  }
  for (int64_t dim : {0, 1, 2, -1}) {
    INFO("dim " << dim);
    const Function function = [dim](const std::vector<Tensor>& in) { return softmax(in[0], dim); };
    const std::vector<Tensor> inputs{randn({2, 3, 4}) * 2.0};
    WISP_REQUIRE_GRADIENTS(function, inputs);
  }
  const Function method = [](const std::vector<Tensor>& in) { return in[0].softmax(0) * in[0]; };
  const std::vector<Tensor> vector_input{randn({5})};
  WISP_REQUIRE_GRADIENTS(method, vector_input);
}

TEST_CASE("softmax errors", "[layers][softmax]") {
  WISP_REQUIRE_ERROR(softmax(zeros({2, 3}), 2), "softmax", "got 2");
  WISP_REQUIRE_ERROR(softmax(zeros({2, 3}, DType::Int64), 1), "softmax: expected input of dtype float32", "int64");
}

// ---- cross_entropy ----------------------------------------------------------------------------------

TEST_CASE("cross_entropy by hand", "[layers][cross_entropy]") {
  // Row 0: log(e + e² + e³) − 3; row 1: uniform logits, log 3.
  Tensor logits = from_vector(std::vector<float>{1, 2, 3, 1, 1, 1}, {2, 3});
  Tensor target = int64_tensor({2, 0});
  const float row0 = 0.40760596444438f, row1 = std::log(3.0f);
  Tensor none = cross_entropy(logits, target, Reduction::None);
  REQUIRE(none.shape() == Shape{2});
  require_close(none, from_vector(std::vector<float>{row0, row1}), 1e-6f);
  Tensor mean = cross_entropy(logits, target);  // Mean is the default
  CHECK(mean.dim() == 0);
  CHECK(mean.item<float>() == Approx((row0 + row1) / 2).epsilon(1e-6));
  CHECK(cross_entropy(logits, target, Reduction::Sum).item<float>() == Approx(row0 + row1).epsilon(1e-6));

  // A single sample: [C] logits, 0-dimensional target.
  Tensor single = cross_entropy(from_vector(std::vector<float>{1, 2, 3}), full({}, 2.0, DType::Int64));
  CHECK(single.dim() == 0);
  CHECK(single.item<float>() == Approx(row0).epsilon(1e-6));
  Tensor single_none =
      cross_entropy(from_vector(std::vector<float>{1, 2, 3}), full({}, 0.0, DType::Int64), Reduction::None);
  CHECK(single_none.dim() == 0);
  CHECK(single_none.item<float>() == Approx(row0 + 2).epsilon(1e-6));

  // Large logits do not overflow.
  Tensor large = from_vector(std::vector<float>{1001, 1002, 1003}, {1, 3});
  CHECK(cross_entropy(large, int64_tensor({2})).item<float>() == Approx(row0).epsilon(1e-5));
}

TEST_CASE("cross_entropy matches the direct formula and log_softmax", "[layers][cross_entropy]") {
  manual_seed(13);
  for (const Shape& shape : {Shape{1, 4}, Shape{64, 10}, Shape{512, 100}}) {
    INFO("shape " << shape);
    const int64_t rows = shape[0], classes = shape[1];
    Tensor logits = randn(shape) * 5.0;
    Tensor target = randint(0, classes, {rows});
    const std::vector<float> x = values(logits);
    const std::vector<int64_t> t = target.to_vector<int64_t>();
    // −log(exp(x_t) / Σ exp(x_c)), in double.
    std::vector<double> expected(static_cast<size_t>(rows));
    double total = 0;
    for (int64_t n = 0; n < rows; ++n) {
      double sum = 0;
      for (int64_t c = 0; c < classes; ++c)
        sum += std::exp(static_cast<double>(x[static_cast<size_t>(n * classes + c)]));
      expected[static_cast<size_t>(n)] =
          std::log(sum) - x[static_cast<size_t>(n * classes + t[static_cast<size_t>(n)])];
      total += expected[static_cast<size_t>(n)];
    }
    require_close_to(values(cross_entropy(logits, target, Reduction::None)), expected, 1e-5);
    CHECK(cross_entropy(logits, target, Reduction::Sum).item<float>() == Approx(total).epsilon(1e-5));
    CHECK(cross_entropy(logits, target).item<float>() == Approx(total / static_cast<double>(rows)).epsilon(1e-5));

    // The same as picking −log_softmax at the targets.
    const std::vector<float> log_probabilities = values(log_softmax(logits, 1));
    for (int64_t n = 0; n < rows; ++n)
      CHECK(-log_probabilities[static_cast<size_t>(n * classes + t[static_cast<size_t>(n)])] ==
            Approx(expected[static_cast<size_t>(n)]).margin(1e-4));
  }
}

TEST_CASE("cross_entropy backward is (softmax - onehot) * g", "[layers][cross_entropy]") {
  manual_seed(21);
  Tensor logits = randn({4, 5});
  Tensor target = int64_tensor({0, 4, 2, 2});
  const std::vector<float> x = values(logits);
  for (Reduction reduction : kReductions) {
    INFO("reduction " << reduction_name(reduction));
    Tensor input = logits.detach().set_requires_grad(true);
    Tensor loss = cross_entropy(input, target, reduction);
    CHECK(loss.grad_fn_name() == "CrossEntropyBackward");
    Tensor g = reduction == Reduction::None ? from_vector(std::vector<float>{1, -2, 0.5f, 3}) : full({}, 1.5);
    loss.backward(g);
    const std::vector<float> grad = values(input.grad());
    for (int64_t n = 0; n < 4; ++n) {
      double sum = 0;
      for (int64_t c = 0; c < 5; ++c) sum += std::exp(static_cast<double>(x[static_cast<size_t>(n * 5 + c)]));
      const double row_grad = reduction == Reduction::None   ? values(g)[static_cast<size_t>(n)]
                              : reduction == Reduction::Mean ? 1.5 / 4
                                                             : 1.5;
      for (int64_t c = 0; c < 5; ++c) {
        const double softmax = std::exp(static_cast<double>(x[static_cast<size_t>(n * 5 + c)])) / sum;
        const double onehot = c == target.to_vector<int64_t>()[static_cast<size_t>(n)] ? 1.0 : 0.0;
        CHECK(grad[static_cast<size_t>(n * 5 + c)] == Approx((softmax - onehot) * row_grad).margin(1e-6));
      }
    }
  }
}

TEST_CASE("cross_entropy gradients", "[layers][cross_entropy]") {
  manual_seed(31);
  for (Reduction reduction : kReductions) {
    INFO("reduction " << reduction_name(reduction));
    const Function function = [reduction](const std::vector<Tensor>& in) {
      return cross_entropy(in[0], in[1], reduction);
    };
    const std::vector<Tensor> inputs{randn({6, 4}) * 2.0, int64_tensor({3, 0, 1, 3, 2, 0})};
    WISP_REQUIRE_GRADIENTS(function, inputs);
    const std::vector<Tensor> single{randn({5}), full({}, 3.0, DType::Int64)};
    WISP_REQUIRE_GRADIENTS(function, single);
  }
  // Through a preceding op: the loss of a linear map.
  const Function through_linear = [](const std::vector<Tensor>& in) { return cross_entropy(in[0] * in[1], in[2]); };
  const std::vector<Tensor> inputs{randn({3, 4}), randn({3, 4}), int64_tensor({1, 3, 0})};
  WISP_REQUIRE_GRADIENTS(through_linear, inputs);
}

TEST_CASE("cross_entropy matches PyTorch", "[layers][cross_entropy]") {
  Tensor target = from_vector(golden::cross_entropy_target);
  struct Expected {
    Reduction reduction;
    const std::vector<float>& loss;
    const std::vector<float>& grad_input;
  };
  for (const Expected& e :
       {Expected{Reduction::None, golden::cross_entropy_none_loss, golden::cross_entropy_none_grad_input},
        Expected{Reduction::Mean, golden::cross_entropy_mean_loss, golden::cross_entropy_mean_grad_input},
        Expected{Reduction::Sum, golden::cross_entropy_sum_loss, golden::cross_entropy_sum_grad_input}}) {
    INFO("reduction " << reduction_name(e.reduction));
    Tensor input = golden_tensor(golden::cross_entropy_input, {4, 5}).set_requires_grad(true);
    Tensor loss = cross_entropy(input, target, e.reduction);
    const bool reduced = e.reduction != Reduction::None;
    require_close(loss, golden_tensor(e.loss, reduced ? Shape{} : Shape{4}), 1e-6f);
    // Reduced losses are seeded with 1, per-sample losses with the generated weights.
    loss.backward(reduced ? Tensor() : golden_tensor(golden::cross_entropy_none_grad_output, {4}));
    require_close(input.grad(), golden_tensor(e.grad_input, {4, 5}), 1e-6f);
  }
}

TEST_CASE("cross_entropy with NaN logits does not crash", "[layers][cross_entropy]") {
  Tensor logits = from_vector(std::vector<float>{0, NAN, 1, 1, 1, 1}, {2, 3});
  const std::vector<float> losses = values(cross_entropy(logits, int64_tensor({0, 1}), Reduction::None));
  CHECK(std::isnan(losses[0]));
  CHECK(losses[1] == Approx(std::log(3.0)).epsilon(1e-6));
  CHECK(std::isnan(cross_entropy(logits, int64_tensor({0, 1})).item<float>()));
  // An empty batch: the mean of nothing is NaN (as PyTorch), the sum 0.
  CHECK(std::isnan(cross_entropy(zeros({0, 3}), zeros({0}, DType::Int64)).item<float>()));
  CHECK(cross_entropy(zeros({0, 3}), zeros({0}, DType::Int64), Reduction::Sum).item<float>() == 0.0f);
}

TEST_CASE("cross_entropy errors", "[layers][cross_entropy]") {
  Tensor logits = zeros({4, 10});
  WISP_REQUIRE_ERROR(cross_entropy(logits, zeros({4})),
                     "cross_entropy: expected target of dtype int64 but got float32");
  WISP_REQUIRE_ERROR(cross_entropy(logits, int64_tensor({1, 2, 3, 12})),
                     "cross_entropy: target 12 at index 3 is out of range [0, 10)");
  WISP_REQUIRE_ERROR(cross_entropy(logits, int64_tensor({-1, 2, 3, 4})), "target -1 at index 0", "[0, 10)");
  WISP_REQUIRE_ERROR(cross_entropy(logits, int64_tensor({1, 2, 3})), "cross_entropy: expected target of shape [4]",
                     "[4, 10]", "got [3]");
  WISP_REQUIRE_ERROR(cross_entropy(logits, zeros({4, 1}, DType::Int64)), "target of shape [4]", "got [4, 1]");
  WISP_REQUIRE_ERROR(cross_entropy(zeros({10}), int64_tensor({1})), "target of shape []", "got [1]");
  WISP_REQUIRE_ERROR(cross_entropy(zeros({2, 3, 4}), zeros({2}, DType::Int64)), "[N, C] or [C]", "[2, 3, 4]");
  WISP_REQUIRE_ERROR(cross_entropy(zeros({4, 10}, DType::Int64), int64_tensor({1, 2, 3, 4})),
                     "expected input of dtype float32", "int64");
  // A failed check leaves nothing half-done: a valid call afterwards works.
  CHECK(cross_entropy(logits, int64_tensor({1, 2, 3, 9})).item<float>() == Approx(std::log(10.0)).epsilon(1e-6));
}

// ---- mse_loss -------------------------------------------------------------------------------------------

TEST_CASE("mse_loss by hand", "[layers][mse_loss]") {
  Tensor input = from_vector(std::vector<float>{1, 2, 3});
  Tensor target = from_vector(std::vector<float>{1, 0, 5});
  // Squared errors 0, 4, 4.
  CHECK(values(mse_loss(input, target, Reduction::None)) == std::vector<float>{0, 4, 4});
  Tensor mean = mse_loss(input, target);
  CHECK(mean.dim() == 0);
  CHECK(mean.item<float>() == Approx(8.0 / 3.0).epsilon(1e-7));
  CHECK(mse_loss(input, target, Reduction::Sum).item<float>() == 8.0f);

  // 2-D and 3-D.
  Tensor a = from_vector(std::vector<float>{0.5f, -1, 2, 4}, {2, 2});
  Tensor b = from_vector(std::vector<float>{0, 1, 2, 1}, {2, 2});
  Tensor none = mse_loss(a, b, Reduction::None);
  REQUIRE(none.shape() == Shape{2, 2});
  CHECK(values(none) == std::vector<float>{0.25f, 4, 0, 9});
  CHECK(mse_loss(a, b).item<float>() == Approx(13.25 / 4).epsilon(1e-7));
  Tensor c = arange(24).view({2, 3, 4});
  CHECK(mse_loss(c, zeros({2, 3, 4}), Reduction::Sum).item<float>() == 4324.0f);  // Σ k², k < 24
}

TEST_CASE("mse_loss backward is 2 (input - target) g", "[layers][mse_loss]") {
  Tensor target_values = from_vector(std::vector<float>{1, 0, 5, -2});
  for (Reduction reduction : kReductions) {
    INFO("reduction " << reduction_name(reduction));
    Tensor input = from_vector(std::vector<float>{1, 2, 3, 0.5f}).set_requires_grad(true);
    Tensor target = target_values.detach().set_requires_grad(true);
    Tensor loss = mse_loss(input, target, reduction);
    CHECK(loss.grad_fn_name() == "MseLossBackward");
    Tensor g = reduction == Reduction::None ? from_vector(std::vector<float>{1, -1, 2, 0.5f}) : full({}, 2.0);
    loss.backward(g);
    // 2 (input − target) = 0, 4, −4, 5.
    std::vector<float> expected = {0, 4, -4, 5};
    for (size_t k = 0; k < 4; ++k) {
      if (reduction == Reduction::None) expected[k] *= values(g)[k];
      if (reduction == Reduction::Mean) expected[k] *= 2.0f / 4.0f;
      if (reduction == Reduction::Sum) expected[k] *= 2.0f;
    }
    CHECK(values(input.grad()) == expected);
    for (float& e : expected) e = -e;
    CHECK(values(target.grad()) == expected);
  }
}

TEST_CASE("mse_loss gradients", "[layers][mse_loss]") {
  manual_seed(41);
  for (Reduction reduction : kReductions) {
    INFO("reduction " << reduction_name(reduction));
    const Function function = [reduction](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], reduction); };
    for (const Shape& shape : {Shape{5}, Shape{3, 4}, Shape{2, 3, 2}}) {
      INFO("shape " << shape);
      const std::vector<Tensor> inputs{randn(shape), randn(shape)};
      WISP_REQUIRE_GRADIENTS(function, inputs);
    }
  }
  // Only one side needs a gradient.
  Tensor input = randn({3}).set_requires_grad(true);
  Tensor target = randn({3});
  mse_loss(input, target).backward();
  CHECK(input.grad().defined());
  CHECK_FALSE(target.grad().defined());
}

TEST_CASE("mse_loss matches PyTorch", "[layers][mse_loss]") {
  struct Expected {
    Reduction reduction;
    const std::vector<float>& loss;
    const std::vector<float>& grad_input;
    const std::vector<float>& grad_target;
  };
  for (const Expected& e :
       {Expected{Reduction::None, golden::mse_none_loss, golden::mse_none_grad_input, golden::mse_none_grad_target},
        Expected{Reduction::Mean, golden::mse_mean_loss, golden::mse_mean_grad_input, golden::mse_mean_grad_target},
        Expected{Reduction::Sum, golden::mse_sum_loss, golden::mse_sum_grad_input, golden::mse_sum_grad_target}}) {
    INFO("reduction " << reduction_name(e.reduction));
    Tensor input = golden_tensor(golden::mse_input, {3, 4}).set_requires_grad(true);
    Tensor target = golden_tensor(golden::mse_target, {3, 4}).set_requires_grad(true);
    Tensor loss = mse_loss(input, target, e.reduction);
    const bool reduced = e.reduction != Reduction::None;
    require_close(loss, golden_tensor(e.loss, reduced ? Shape{} : Shape{3, 4}), 1e-6f);
    loss.backward(reduced ? Tensor() : golden_tensor(golden::mse_none_grad_output, {3, 4}));
    require_close(input.grad(), golden_tensor(e.grad_input, {3, 4}), 1e-6f);
    require_close(target.grad(), golden_tensor(e.grad_target, {3, 4}), 1e-6f);
  }
}

TEST_CASE("mse_loss of many elements is accurate and parallel-safe", "[layers][mse_loss]") {
  // 10^6 squared errors of 0.01: float accumulation would drift; double accumulation does not.
  Tensor input = full({1000, 1000}, 0.1);
  Tensor target = zeros({1000, 1000});
  CHECK(mse_loss(input, target, Reduction::Sum).item<float>() == Approx(10000.0).epsilon(1e-6));
  CHECK(mse_loss(input, target).item<float>() == Approx(0.01).epsilon(1e-6));
  manual_seed(43);
  Tensor a = randn({300, 500}), b = randn({300, 500});
  const float first = mse_loss(a, b).item<float>();
  CHECK(mse_loss(a, b).item<float>() == first);  // bitwise reproducible
  const std::vector<float> x = values(a), y = values(b);
  double total = 0;
  for (size_t k = 0; k < x.size(); ++k) total += (static_cast<double>(x[k]) - y[k]) * (x[k] - y[k]);
  CHECK(first == Approx(total / static_cast<double>(x.size())).epsilon(1e-6));
}

TEST_CASE("mse_loss with NaN does not crash", "[layers][mse_loss]") {
  Tensor input = from_vector(std::vector<float>{1, NAN});
  Tensor target = zeros({2});
  CHECK(std::isnan(mse_loss(input, target).item<float>()));
  const std::vector<float> none = values(mse_loss(input, target, Reduction::None));
  CHECK(none[0] == 1.0f);
  CHECK(std::isnan(none[1]));
  CHECK(std::isnan(mse_loss(zeros({0}), zeros({0})).item<float>()));  // the mean of nothing
}

TEST_CASE("mse_loss errors", "[layers][mse_loss]") {
  WISP_REQUIRE_ERROR(mse_loss(zeros({2, 3}), zeros({3, 2})),
                     "mse_loss: expected input and target of the same shape but got [2, 3] and [3, 2]");
  WISP_REQUIRE_ERROR(mse_loss(zeros({3}), zeros({1})), "[3] and [1]");
  WISP_REQUIRE_ERROR(mse_loss(zeros({3}), zeros({3}, DType::Int64)), "mse_loss: expected target of dtype float32",
                     "int64");
  WISP_REQUIRE_ERROR(mse_loss(zeros({3}, DType::Int64), zeros({3})), "expected input of dtype float32", "int64");
}
