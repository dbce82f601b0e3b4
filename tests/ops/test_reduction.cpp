// sum, mean and argmax.
#include "test_helpers.h"

using namespace wisp;
using wisp::testing::require_close;
using wisp::testing::values;

TEST_CASE("sum and mean forward", "[layers][reduction]") {
  Tensor a = arange(24).view({2, 3, 4});
  CHECK(a.sum().item<float>() == 276.0f);
  CHECK(a.sum().dim() == 0);
  CHECK(a.mean().item<float>() == 11.5f);
  Tensor over_middle = a.sum(1);
  REQUIRE(over_middle.shape() == Shape{2, 4});
  CHECK(values(over_middle) == std::vector<float>{12, 15, 18, 21, 48, 51, 54, 57});
  CHECK(a.sum(1, true).shape() == Shape{2, 1, 4});
  CHECK(values(a.sum(-1)) == std::vector<float>{6, 22, 38, 54, 70, 86});
  // a = arange(24) as [2, 3, 4]: over dim 0, element (j, k) sums j·4 + k and 12 + j·4 + k.
  CHECK(values(a.sum(0)) == std::vector<float>{12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34});
  CHECK(values(a.mean(2)) == std::vector<float>{1.5f, 5.5f, 9.5f, 13.5f, 17.5f, 21.5f});
  CHECK(sum(a, 0, true).shape() == Shape{1, 3, 4});
  CHECK(values(sum(a, 0, true).view({12})) == values(a.sum(0)));
  CHECK(values(mean(a, -3)) == std::vector<float>{6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17});
  WISP_REQUIRE_ERROR(a.sum(3), "sum", "[-3, 2]", "got 3");
  WISP_REQUIRE_ERROR(a.mean(5), "mean", "[-3, 2]", "got 5");
  // A 0-d tensor reduces over dim 0 or -1 to itself, as in PyTorch (its gradient too).
  Tensor scalar = full({}, 2.5).set_requires_grad(true);
  CHECK(scalar.sum(0).item<float>() == 2.5f);
  CHECK(scalar.sum(-1, true).dim() == 0);
  CHECK(scalar.mean(0).item<float>() == 2.5f);
  CHECK(scalar.argmax(0).item<int64_t>() == 0);
  (scalar.sum(0) * 3.0).backward();
  CHECK(scalar.grad().item<float>() == 3.0f);
  WISP_REQUIRE_ERROR(scalar.sum(1), "sum", "dimension out of range");
  WISP_REQUIRE_ERROR(scalar.mean(2), "mean", "dimension out of range");
  WISP_REQUIRE_ERROR(zeros({2, 0}).mean(1), "mean", "non-empty dimension 1", "[2, 0]");
  WISP_REQUIRE_ERROR(zeros({2, 0}).argmax(1), "argmax", "non-empty");
  WISP_REQUIRE_ERROR(zeros({0}).mean(), "non-empty");
}

TEST_CASE("integer sums give int64", "[layers][reduction]") {
  Tensor bytes = from_vector(std::vector<uint8_t>{200, 200, 200});
  Tensor total = bytes.sum();
  CHECK(total.dtype() == DType::Int64);
  CHECK(total.item<int64_t>() == 600);  // no uint8 overflow
  Tensor ints = arange(6, DType::Int32).view({2, 3});
  CHECK(ints.sum(1).to_vector<int64_t>() == std::vector<int64_t>{3, 12});
  WISP_REQUIRE_ERROR(ints.mean(), "mean", "float32", "int32");
}

TEST_CASE("a large float sum is accurate", "[layers][reduction]") {
  // 10^6 ones plus small values: float accumulation would drift; double accumulation does not.
  Tensor x = full({1000000}, 0.1);
  CHECK(std::abs(x.sum().item<float>() - 100000.0f) < 0.05f);
}

TEST_CASE("sum and mean gradients", "[layers][reduction]") {
  manual_seed(11);
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return in[0].sum(); }, {randn({2, 3})});
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return in[0].mean(); }, {randn({2, 3})});
  for (int64_t dim : {0, 1, 2, -1}) {
    INFO("dim " << dim);
    WISP_REQUIRE_GRADIENTS([dim](const std::vector<Tensor>& in) { return in[0].sum(dim); }, {randn({2, 3, 4})});
    WISP_REQUIRE_GRADIENTS([dim](const std::vector<Tensor>& in) { return in[0].mean(dim, true) * in[0]; },
                           {randn({2, 3, 4})});
  }
}

TEST_CASE("argmax", "[layers][reduction]") {
  Tensor a = from_vector(std::vector<float>{1, 5, 5, 0, 2, 9, -1, 9, 3, 3, 3, 3}, {3, 4});
  Tensor rows = a.argmax(1);
  CHECK(rows.dtype() == DType::Int64);
  CHECK(rows.to_vector<int64_t>() == std::vector<int64_t>{1, 1, 0});  // ties: lowest index
  CHECK(a.argmax(0).to_vector<int64_t>() == std::vector<int64_t>{2, 1, 0, 1});
  CHECK(a.argmax(1, true).shape() == Shape{3, 1});
  CHECK(a.argmax().item<int64_t>() == 5);
  CHECK(a.argmax().dim() == 0);
  Tensor with_nan = from_vector(std::vector<float>{1, NAN, 7});
  CHECK(with_nan.argmax().item<int64_t>() == 1);  // NaN is the maximum, like PyTorch
  Tensor ints = from_vector(std::vector<int64_t>{4, -2, 8, 8});
  CHECK(ints.argmax(0).item<int64_t>() == 2);
  WISP_REQUIRE_ERROR(zeros({0}).argmax(), "non-empty");
  WISP_REQUIRE_ERROR(a.argmax(2), "argmax", "got 2");
}
