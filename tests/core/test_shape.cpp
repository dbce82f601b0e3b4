// Shape, dimension normalisation and broadcasting rules.
#include <sstream>

#include "test_helpers.h"

using namespace wisp;

TEST_CASE("shape basics", "[core][shape]") {
  Shape s{2, 3, 4};
  CHECK(s.size() == 3);
  CHECK(s.numel() == 24);
  CHECK(Shape{}.numel() == 1);
  CHECK(Shape{5, 0}.numel() == 0);
  CHECK(s.str() == "[2, 3, 4]");
  std::ostringstream out;
  out << Shape{20, 10} << " " << Shape{};
  CHECK(out.str() == "[20, 10] []");
  CHECK(Shape(std::vector<int64_t>{1, 2}) == Shape{1, 2});
  CHECK(Shape{1, 2} != Shape{2, 1});
}

TEST_CASE("element counts that int64 cannot hold are an error, not a wrap-around", "[core][shape]") {
  const int64_t big = int64_t(1) << 32;
  WISP_REQUIRE_ERROR(Shape({big, big}).numel(), "[4294967296, 4294967296]", "more elements than int64");
  WISP_REQUIRE_ERROR(Shape({3037000500, 3037000500}).numel(), "more elements than int64");
  CHECK(Shape{big, big, 0}.numel() == 0);  // a zero size makes the product 0 whatever the others
  CHECK(Shape{big, big / 2 - 1}.numel() == big * (big / 2 - 1));
  WISP_REQUIRE_ERROR(zeros({big, big}), "more elements than int64");
  WISP_REQUIRE_ERROR(empty({int64_t(1) << 60, 4}, DType::Float32), "empty", "needs 18446744073709551616 bytes");
  WISP_REQUIRE_ERROR(zeros({0}).view({big, big}), "view", "more elements than int64");
  CHECK(zeros({0}).view({big, big, 0}).shape() == Shape{big, big, 0});
}

TEST_CASE("normalize_dim", "[core][shape]") {
  CHECK(normalize_dim(-1, 3, "op") == 2);
  CHECK(normalize_dim(0, 3, "op") == 0);
  CHECK(normalize_dim(-3, 3, "op") == 0);
  WISP_REQUIRE_ERROR(normalize_dim(3, 3, "myop"), "myop", "[-3, 2]", "got 3");
}

TEST_CASE("broadcast_shapes follows PyTorch", "[core][shape]") {
  CHECK(broadcast_shapes({2, 3}, {3}, "op") == Shape{2, 3});
  CHECK(broadcast_shapes({2, 1, 4}, {3, 1}, "op") == Shape{2, 3, 4});
  CHECK(broadcast_shapes({}, {5}, "op") == Shape{5});
  CHECK(broadcast_shapes({1}, {7, 1}, "op") == Shape{7, 1});
  CHECK(broadcast_shapes({0, 3}, {1, 3}, "op") == Shape{0, 3});
  WISP_REQUIRE_ERROR(broadcast_shapes({2, 3}, {4}, "add"), "add", "[2, 3]", "[4]", "cannot be broadcast");
}
