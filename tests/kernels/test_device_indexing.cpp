// The index arithmetic and launch geometry of the CUDA kernels (kernels/device_indexing.h), checked
// on the CPU against plain multi-index loops and the CPU kernels, so that it is right before it
// first runs on a GPU (DESIGN.md §5).
#include <array>
#include <vector>

#include "test_helpers.h"
#include "wisp/kernels/device_indexing.h"
#include "wisp/kernels/elementwise.h"

using namespace wisp;
using kernels::BroadcastIndexer;

namespace {

// The row-major multi-index of flat index i in `shape`.
std::vector<int64_t> unravel(int64_t i, const Shape& shape) {
  std::vector<int64_t> index(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    index[static_cast<size_t>(d)] = i % shape[static_cast<size_t>(d)];
    i /= shape[static_cast<size_t>(d)];
  }
  return index;
}

// The flat offset in `operand` of the output multi-index, by the broadcasting rules.
int64_t broadcast_offset(const std::vector<int64_t>& out_index, const Shape& operand) {
  const size_t shift = out_index.size() - operand.size();
  int64_t offset = 0;
  for (size_t d = 0; d < operand.size(); ++d)
    offset = offset * operand[d] + (operand[d] == 1 ? 0 : out_index[d + shift]);
  return offset;
}

}  // namespace

TEST_CASE("BroadcastIndexer maps output indices to operand offsets as broadcasting does", "[kernels][cuda_indexing]") {
  const std::vector<std::pair<Shape, Shape>> cases = {{{2, 3}, {2, 3}},    {{2, 3}, {3}},
                                                      {{4, 1, 5}, {3, 1}}, {{1}, {2, 2, 2}},
                                                      {{}, {3, 4}},        {{2, 1, 3, 1}, {5, 1, 1}},
                                                      {{7}, {1}},          {{1, 1, 1, 1, 1, 1, 1, 2}, {2}}};
  for (const auto& [a, b] : cases) {
    const Shape out = broadcast_shapes(a, b, "test");
    INFO("a " << a << ", b " << b << ", out " << out);
    const BroadcastIndexer indexer = kernels::make_broadcast_indexer(a, b, out);
    for (int64_t i = 0; i < out.numel(); ++i) {
      int64_t a_offset = -1, b_offset = -1;
      indexer.offsets(i, a_offset, b_offset);
      const std::vector<int64_t> index = unravel(i, out);
      CHECK(a_offset == broadcast_offset(index, a));
      CHECK(b_offset == broadcast_offset(index, b));
    }
  }
  WISP_REQUIRE_ERROR(kernels::make_broadcast_indexer({1, 1, 1, 1, 1, 1, 1, 1, 2}, {2}, {1, 1, 1, 1, 1, 1, 1, 1, 2}),
                     "CUDA kernels: expected at most 8 dimensions");
}

TEST_CASE("TernaryBroadcastIndexer maps output indices to three operands' offsets (where)",
          "[kernels][cuda_indexing]") {
  const std::vector<std::array<Shape, 3>> cases = {{Shape{2, 3}, Shape{2, 3}, Shape{2, 3}},
                                                   {Shape{3}, Shape{2, 3}, Shape{2, 1}},
                                                   {Shape{2, 1, 1}, Shape{3}, Shape{4, 1}},
                                                   {Shape{}, Shape{5}, Shape{}},
                                                   {Shape{1, 1, 1, 1, 1, 1, 1, 2}, Shape{2, 1}, Shape{1}}};
  for (const auto& [c, a, b] : cases) {
    const Shape out = broadcast_shapes(c, broadcast_shapes(a, b, "test"), "test");
    INFO("condition " << c << ", a " << a << ", b " << b << ", out " << out);
    const kernels::TernaryBroadcastIndexer indexer = kernels::make_ternary_broadcast_indexer(c, a, b, out);
    for (int64_t i = 0; i < out.numel(); ++i) {
      int64_t c_offset = -1, a_offset = -1, b_offset = -1;
      indexer.offsets(i, c_offset, a_offset, b_offset);
      const std::vector<int64_t> index = unravel(i, out);
      CHECK(c_offset == broadcast_offset(index, c));
      CHECK(a_offset == broadcast_offset(index, a));
      CHECK(b_offset == broadcast_offset(index, b));
    }
  }
  WISP_REQUIRE_ERROR(
      kernels::make_ternary_broadcast_indexer({2}, {2}, {1, 1, 1, 1, 1, 1, 1, 1, 2}, {1, 1, 1, 1, 1, 1, 1, 1, 2}),
      "CUDA kernels: expected at most 8 dimensions");
}

TEST_CASE("ReductionIndexer sums the elements that broadcast to each output, as sum_to_shape",
          "[kernels][cuda_indexing]") {
  manual_seed(4);
  const std::vector<std::pair<Shape, Shape>> cases = {{{4, 5}, {5}},       {{4, 5}, {4, 1}}, {{2, 3, 4}, {1}},
                                                      {{2, 3, 4}, {3, 1}}, {{6}, {6}},       {{2, 1, 3}, {1, 3}},
                                                      {{3, 4}, {}}};
  for (const auto& [in, out] : cases) {
    INFO("in " << in << ", out " << out);
    const Tensor a = randn(in);
    const std::vector<float> values = a.to_vector<float>();
    const kernels::ReductionIndexer indexer = kernels::make_reduction_indexer(in, out);
    CHECK(indexer.reduced_count * out.numel() == in.numel());
    std::vector<float> sums(static_cast<size_t>(out.numel()), 0.0f);
    for (int64_t j = 0; j < out.numel(); ++j)
      for (int64_t r = 0; r < indexer.reduced_count; ++r)
        sums[static_cast<size_t>(j)] += values[static_cast<size_t>(indexer.in_offset(j, r))];
    wisp::testing::require_close(from_vector(sums, out), kernels::sum_to_shape(a, out), 1e-5f);
  }
}

TEST_CASE("sum_to_shape rejects a shape that does not broadcast to the input's", "[kernels][cuda_indexing]") {
  WISP_REQUIRE_ERROR(kernels::sum_to_shape(ones({2, 1}), Shape{1, 3}), "broadcasts to the input's shape [2, 1]",
                     "[1, 3]");
  WISP_REQUIRE_ERROR(kernels::sum_to_shape(ones({3}), Shape{2, 3}), "broadcasts to the input's shape [3]");
  WISP_REQUIRE_ERROR(kernels::sum_to_shape(ones({2, 3}), Shape{4}), "sum_to_shape");
}

TEST_CASE("blocks_for covers n with grid-stride blocks, at least one, at most kMaxBlocks", "[kernels][cuda_indexing]") {
  CHECK(kernels::blocks_for(0) == 1);
  CHECK(kernels::blocks_for(1) == 1);
  CHECK(kernels::blocks_for(kernels::kThreadsPerBlock) == 1);
  CHECK(kernels::blocks_for(kernels::kThreadsPerBlock + 1) == 2);
  CHECK(kernels::blocks_for(int64_t(1) << 40) == kernels::kMaxBlocks);
}
