// Factories and seeded randomness.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>

#include "test_helpers.h"

// Requests of terabytes must come back as an out-of-memory error, not abort the process as
// AddressSanitizer does by default when an allocation cannot be satisfied.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }

using namespace wisp;
using wisp::testing::values;

TEST_CASE("constant factories", "[core][factories]") {
  CHECK(values(zeros({2, 2})) == std::vector<float>(4, 0.0f));
  CHECK(values(ones({3})) == std::vector<float>(3, 1.0f));
  CHECK(values(full({2}, -1.5)) == std::vector<float>{-1.5f, -1.5f});
  CHECK(zeros({2}, DType::Int64).to_vector<int64_t>() == std::vector<int64_t>{0, 0});
  CHECK(ones({2}, TensorOptions().dtype(DType::UInt8)).to_vector<uint8_t>() == std::vector<uint8_t>{1, 1});
  CHECK(zeros_like(ones({2, 5}, DType::Int32)).dtype() == DType::Int32);
  CHECK(ones_like(zeros({4})).to_vector<float>() == std::vector<float>(4, 1.0f));
  Tensor needs_grad = zeros({3}, TensorOptions().requires_grad(true));
  CHECK(needs_grad.requires_grad());
  CHECK(needs_grad.is_leaf());
}

TEST_CASE("arange", "[core][factories]") {
  CHECK(arange(5, DType::Int64).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(arange(2, 11, 3, DType::Int64).to_vector<int64_t>() == std::vector<int64_t>{2, 5, 8});
  CHECK(arange(5, 0, -2, DType::Int64).to_vector<int64_t>() == std::vector<int64_t>{5, 3, 1});
  CHECK(values(arange(3)) == std::vector<float>{0, 1, 2});  // float32 by default, as TensorOptions
  CHECK(arange(0).numel() == 0);
  WISP_REQUIRE_ERROR(arange(0, 5, 0), "step must be nonzero");
  WISP_REQUIRE_ERROR(arange(5, 0, 1), "inconsistent with step 1");
  // Ranges near the int64 limits: the count and the offsets exceed int64, the values do not.
  CHECK(arange(0, INT64_MAX, INT64_MAX / 2, DType::Int64).to_vector<int64_t>() ==
        std::vector<int64_t>{0, INT64_MAX / 2, INT64_MAX / 2 * 2});
  CHECK(arange(INT64_MIN, INT64_MAX, INT64_MAX, DType::Int64).to_vector<int64_t>() ==
        std::vector<int64_t>{INT64_MIN, -1, INT64_MAX - 1});
  CHECK(arange(INT64_MAX, INT64_MIN, INT64_MIN, DType::Int64).to_vector<int64_t>() ==
        std::vector<int64_t>{INT64_MAX, -1});
  // Values the dtype cannot hold are an error, not a wrap-around.
  CHECK(arange(256, DType::UInt8).to_vector<uint8_t>().back() == 255);
  WISP_REQUIRE_ERROR(arange(257, DType::UInt8), "arange", "last value 256", "uint8", "[0, 255]");
  WISP_REQUIRE_ERROR(arange(-1, 3, 1, DType::UInt8), "arange", "start -1", "uint8");
  // More values than int64 can count: said as such (the count used to wrap and blame empty()).
  WISP_REQUIRE_ERROR(arange(INT64_MIN, INT64_MAX, 1),
                     "arange: the range from -9223372036854775808 to "
                     "9223372036854775807 with step 1 has 18446744073709551615 values, more than a tensor can hold");
}

TEST_CASE("constant and random factories refuse values the dtype cannot hold", "[core][factories]") {
  // PyTorch: "value cannot be converted to type uint8_t without overflow".
  WISP_REQUIRE_ERROR(full({2}, 300, DType::UInt8), "full", "value 300", "uint8", "[0, 255]");
  WISP_REQUIRE_ERROR(full({2}, -1, DType::UInt8), "full", "value -1");
  WISP_REQUIRE_ERROR(full({2}, 0.5, DType::Int64), "full", "value 0.5", "int64", "whole number");
  WISP_REQUIRE_ERROR(full({2}, std::nan(""), DType::Int32), "full", "int32");
  WISP_REQUIRE_ERROR(full({2}, 1e39), "full", "float32", "without overflow");
  CHECK(std::isinf(full({}, INFINITY).item<float>()));
  CHECK(full({1}, 255, DType::UInt8).to_vector<uint8_t>() == std::vector<uint8_t>{255});
  CHECK(full({1}, -2147483648.0, DType::Int32).to_vector<int32_t>() == std::vector<int32_t>{INT32_MIN});
  WISP_REQUIRE_ERROR(zeros({2}, DType::UInt8).fill_(256), "fill_", "value 256", "uint8");
  WISP_REQUIRE_ERROR(zeros({2}, DType::Int64).fill_(1.5), "fill_", "value 1.5", "int64");
  WISP_REQUIRE_ERROR(randint(0, 1000, {8}, DType::UInt8), "randint", "high - 1 999", "uint8");
  WISP_REQUIRE_ERROR(randint(-1, 10, {8}, DType::UInt8), "randint", "low -1", "uint8");
  // The full int64 range: high - low exceeds int64.
  const Tensor wide = randint(INT64_MIN, INT64_MAX, {1000}, DType::Int64);
  const std::vector<int64_t> drawn = wide.to_vector<int64_t>();
  CHECK(*std::min_element(drawn.begin(), drawn.end()) < -(INT64_MAX / 4));
  CHECK(*std::max_element(drawn.begin(), drawn.end()) > INT64_MAX / 4);
}

TEST_CASE("rand, randn and randint have the right distributions", "[core][factories][random]") {
  manual_seed(1);
  const std::vector<float> u = values(rand({100000}));
  double mean = 0;
  for (float x : u) {
    REQUIRE(x >= 0.0f);
    REQUIRE(x < 1.0f);
    mean += x;
  }
  mean /= u.size();
  CHECK(std::abs(mean - 0.5) < 0.01);

  const std::vector<float> n = values(randn({100000}));
  double sum = 0, squares = 0;
  for (float x : n) {
    REQUIRE(std::isfinite(x));
    sum += x;
    squares += double(x) * x;
  }
  const double normal_mean = sum / n.size();
  const double normal_std = std::sqrt(squares / n.size() - normal_mean * normal_mean);
  CHECK(std::abs(normal_mean) < 0.02);
  CHECK(std::abs(normal_std - 1.0) < 0.02);
  // The shape, not only the first two moments (a uniform of the same mean and deviation would pass
  // those): the normal's mass within 1 and 2 deviations, its kurtosis 3 (a uniform's is 1.8), tails.
  double within_one = 0, within_two = 0, fourth = 0, largest = 0;
  for (float x : n) {
    within_one += std::abs(x) < 1.0f;
    within_two += std::abs(x) < 2.0f;
    fourth += std::pow(double(x) - normal_mean, 4);
    largest = std::max(largest, double(std::abs(x)));
  }
  CHECK(std::abs(within_one / n.size() - 0.6827) < 0.005);
  CHECK(std::abs(within_two / n.size() - 0.9545) < 0.004);
  CHECK(std::abs(fourth / n.size() / std::pow(normal_std, 4) - 3.0) < 0.1);
  CHECK(largest > 3.5);

  Tensor ints = randint(-3, 4, {20000});
  CHECK(ints.dtype() == DType::Int64);
  std::set<int64_t> seen;
  for (int64_t v : ints.to_vector<int64_t>()) {
    REQUIRE(v >= -3);
    REQUIRE(v < 4);
    seen.insert(v);
  }
  CHECK(seen.size() == 7);  // every value in [-3, 4) occurs
  // Uniform over the 7 values: chi-square with 6 degrees of freedom below 22.5 (p = 0.001).
  std::vector<double> counts(7, 0.0);
  for (int64_t v : ints.to_vector<int64_t>()) counts[static_cast<size_t>(v + 3)] += 1;
  double chi_square = 0;
  for (double count : counts) chi_square += (count - 20000.0 / 7) * (count - 20000.0 / 7) / (20000.0 / 7);
  CHECK(chi_square < 22.5);
  CHECK(randint(0, 10, {3}, DType::Int32).dtype() == DType::Int32);
  WISP_REQUIRE_ERROR(randint(5, 5, {2}), "low < high", "low=5", "high=5");
  WISP_REQUIRE_ERROR(randint(0, 5, {2}, DType::Float32), "randint", "integer dtype", "float32");
  WISP_REQUIRE_ERROR(randn({2}, DType::Int64), "randn", "floating-point dtype", "int64");
  WISP_REQUIRE_ERROR(rand({2}, DType::Int64), "rand", "floating-point", "int64");
}

TEST_CASE("a random factory that refuses its arguments draws nothing", "[core][random]") {
  manual_seed(7);
  const std::vector<float> expected = values(rand({3}));
  manual_seed(7);
  WISP_REQUIRE_ERROR(rand({-2, 3}), "rand: expected non-negative sizes but got shape [-2, 3]");
  WISP_REQUIRE_ERROR(randn({4, -1}), "randn: expected non-negative sizes");
  WISP_REQUIRE_ERROR(randint(0, 5, {-1}), "randint: expected non-negative sizes");
  CHECK(values(rand({3})) == expected);
}

TEST_CASE("manual_seed makes draws reproducible, independent of the thread count", "[core][random]") {
  manual_seed(42);
  const std::vector<float> first = values(randn({50000}));
  const std::vector<int64_t> first_ints = randint(0, 1000, {100}).to_vector<int64_t>();
  const int threads = get_num_threads();
  set_num_threads(1);
  manual_seed(42);
  const std::vector<float> second = values(randn({50000}));
  const std::vector<int64_t> second_ints = randint(0, 1000, {100}).to_vector<int64_t>();
  set_num_threads(threads);
  CHECK(first == second);
  CHECK(first_ints == second_ints);
  manual_seed(43);
  CHECK(values(randn({50000})) != first);
  // Consecutive draws continue the stream rather than repeating it.
  manual_seed(42);
  const std::vector<float> a = values(rand({4})), b = values(rand({4}));
  CHECK(a != b);
  WISP_REQUIRE_ERROR(set_num_threads(0), "expected 1 to 1024 threads", "got 0");
  WISP_REQUIRE_ERROR(set_num_threads(100000), "expected 1 to 1024 threads", "got 100000");
}

TEST_CASE("empty refuses sizes no allocation can hold, on every path to the allocator", "[core][factories]") {
  // 2^64 - 8 bytes fit size_t, but rounding them up to the CPU alignment wraps around to 0.
  WISP_REQUIRE_ERROR(empty({(int64_t{1} << 61) - 1}, DType::Int64), "empty: shape [2305843009213693951] of int64",
                     "needs 18446744073709551608 bytes", "at most 9223372036854775807");
  WISP_REQUIRE_ERROR(empty({(int64_t{1} << 62) - 1}, DType::Float32), "empty", "of float32",
                     "needs 18446744073709551612 bytes");
  // One past the largest allocation: 2^63 bytes.
  WISP_REQUIRE_ERROR(zeros({int64_t{1} << 61}, DType::Int32), "zeros", "needs 9223372036854775808 bytes");
  WISP_REQUIRE_ERROR(ones({int64_t{1} << 59, 8}, DType::Int64), "ones", "needs 36893488147419103232 bytes");
  // The largest size passes the check; the system then has no such memory, which is an error too.
  WISP_REQUIRE_ERROR(empty({INT64_MAX}, DType::UInt8), "out of CPU memory", "9223372036854775807 bytes");
  WISP_REQUIRE_ERROR(empty({int64_t{1} << 42}, DType::Int64), "out of CPU memory", "35184372088832 bytes");
  // Storage itself refuses what empty() would.
  WISP_REQUIRE_ERROR(Storage(SIZE_MAX, Device::cpu()), "Storage", "18446744073709551615 bytes",
                     "at most 9223372036854775807");
  // The random factories check the byte count before they draw.
  manual_seed(11);
  const std::vector<float> expected = values(rand({2}));
  manual_seed(11);
  WISP_REQUIRE_ERROR(rand({(int64_t{1} << 62) - 1}), "rand", "needs 18446744073709551612 bytes");
  WISP_REQUIRE_ERROR(randn({int64_t{1} << 61}), "randn", "needs 9223372036854775808 bytes");
  WISP_REQUIRE_ERROR(randint(0, 4, {(int64_t{1} << 61) - 1}), "randint", "needs 18446744073709551608 bytes");
  CHECK(values(rand({2})) == expected);
  // Small tensors are unaffected.
  CHECK(empty({0}, DType::Int64).nbytes() == 0);
  CHECK(empty({3}, DType::Int64).nbytes() == 24);
}
