// The storage dtypes of the sparse kernels' compact copies: BFloat16 (rounded to nearest, ties to
// even, as PyTorch's .to(torch.bfloat16)) and UInt16.
#include <cmath>
#include <limits>

#include "test_helpers.h"
#include "wisp/kernels/bfloat16_math.h"

using namespace wisp;
using wisp::testing::printed;

TEST_CASE("bfloat16: conversions round to nearest, ties to even, and widen exactly", "[core][bfloat16]") {
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1). 1 + 3 · 2^-8 lies
  // halfway between 1 + 2^-7 and 1 + 2^-6: to 1 + 2^-6. Just above a half rounds up.
  const std::vector<float> in = {1.0f,
                                 1.0f + std::ldexp(1.0f, -8),
                                 1.0f + 3 * std::ldexp(1.0f, -8),
                                 1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20),
                                 -2.5f,
                                 0.0f,
                                 -0.0f,
                                 std::numeric_limits<float>::infinity(),
                                 3.0e38f};
  const std::vector<float> expected = {1.0f,
                                       1.0f,
                                       1.0f + std::ldexp(1.0f, -6),
                                       1.0f + std::ldexp(1.0f, -7),
                                       -2.5f,
                                       0.0f,
                                       -0.0f,
                                       std::numeric_limits<float>::infinity(),
                                       2.9999e38f};
  const Tensor rounded = from_vector(in, {static_cast<int64_t>(in.size())}).to(DType::BFloat16);
  CHECK(rounded.dtype() == DType::BFloat16);
  CHECK(rounded.nbytes() == in.size() * 2);
  const std::vector<float> back = rounded.to(DType::Float32).to_vector<float>();
  for (size_t i = 0; i < 8; ++i) {
    INFO("element " << i);
    CHECK(back[i] == expected[i]);
    CHECK(std::signbit(back[i]) == std::signbit(expected[i]));
  }
  CHECK(std::abs(back[8] - 3.0e38f) / 3.0e38f < 1.0f / 128);
  // Widening then narrowing again changes nothing.
  CHECK(rounded.to(DType::Float32).to(DType::BFloat16).to(DType::Float32).to_vector<float>() == back);
  CHECK(std::isnan(kernels::float_from_bfloat16(kernels::bfloat16_from_float(std::nanf("")))));
}

TEST_CASE("bfloat16: storage only, with clear errors elsewhere", "[core][bfloat16]") {
  const Tensor copy = from_vector<float>({1.5f, -2.0f}, {2}).to(DType::BFloat16);
  CHECK(printed(copy) == "tensor([ 1.5000, -2.0000], dtype=bfloat16)");
  WISP_REQUIRE_ERROR(copy + copy, "bfloat16 tensors hold the reduced-precision copies", ".to(DType::Float32)");
  WISP_REQUIRE_ERROR(copy.to(DType::Int32), "cast: bfloat16 converts to and from float32 only", "bfloat16 to int32");
  CHECK(element_size(DType::BFloat16) == 2);
  CHECK(dtype_name(DType::BFloat16) == std::string("bfloat16"));
}

TEST_CASE("uint16: a full integer dtype", "[core][bfloat16]") {
  const Tensor t = from_vector<uint16_t>({0, 65535, 7}, {3});
  CHECK(t.dtype() == DType::UInt16);
  CHECK(t.to(DType::Int64).to_vector<int64_t>() == std::vector<int64_t>{0, 65535, 7});
  CHECK(printed(t) == "tensor([    0, 65535,     7], dtype=uint16)");
  CHECK(holds_integer(DType::UInt16, 65535));
  CHECK_FALSE(holds_integer(DType::UInt16, 65536));
  CHECK_FALSE(holds_integer(DType::UInt16, -1));
}
