// Index arithmetic and launch geometry for the CUDA kernels, written as plain host/device code so
// that CPU tests check it (DESIGN.md §5: "keep launch geometry and indexing in small helpers with
// their own CPU-side tests"). No CUDA headers.
#pragma once

#include <cstdint>

#include "wisp/core/error.h"
#include "wisp/core/macros.h"
#include "wisp/core/shape.h"

namespace wisp::kernels {

// The most dimensions a broadcast the CUDA kernels take (shapes travel to the device by value).
constexpr int kMaxDeviceDims = 8;

// Maps a flat index of a row-major output to the flat offsets of two operands broadcast to it:
// sizes are the output's, strides each operand's aligned to the output's rank (0 where broadcast).
struct BroadcastIndexer {
  int rank = 0;
  int64_t sizes[kMaxDeviceDims] = {};
  int64_t a_strides[kMaxDeviceDims] = {};
  int64_t b_strides[kMaxDeviceDims] = {};

  WISP_HOST_DEVICE void offsets(int64_t index, int64_t& a_offset, int64_t& b_offset) const {
    a_offset = 0;
    b_offset = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t coordinate = index % sizes[d];
      index /= sizes[d];
      a_offset += coordinate * a_strides[d];
      b_offset += coordinate * b_strides[d];
    }
  }
};

// Strides of `operand` aligned to `out`'s rank, 0 where the operand is broadcast (size 1 or absent).
inline void broadcast_strides_into(const Shape& operand, const Shape& out, int64_t* strides) {
  const size_t shift = out.size() - operand.size();
  for (size_t d = 0; d < out.size(); ++d) strides[d] = 0;
  int64_t stride = 1;
  for (int64_t d = static_cast<int64_t>(operand.size()) - 1; d >= 0; --d) {
    const int64_t size = operand[static_cast<size_t>(d)];
    strides[static_cast<size_t>(d) + shift] = size == 1 ? 0 : stride;
    stride *= size;
  }
}

// The indexer for a op b -> out (out = broadcast_shapes(a, b)); at most kMaxDeviceDims dimensions.
inline BroadcastIndexer make_broadcast_indexer(const Shape& a, const Shape& b, const Shape& out) {
  WISP_CHECK(out.size() <= static_cast<size_t>(kMaxDeviceDims), "CUDA kernels: expected at most ", kMaxDeviceDims,
             " dimensions but got shape ", out);
  BroadcastIndexer indexer;
  indexer.rank = static_cast<int>(out.size());
  for (size_t d = 0; d < out.size(); ++d) indexer.sizes[d] = out[d];
  broadcast_strides_into(a, out, indexer.a_strides);
  broadcast_strides_into(b, out, indexer.b_strides);
  return indexer;
}

// The same for three operands (where's condition, a and b).
struct TernaryBroadcastIndexer {
  int rank = 0;
  int64_t sizes[kMaxDeviceDims] = {};
  int64_t strides[3][kMaxDeviceDims] = {};

  WISP_HOST_DEVICE void offsets(int64_t index, int64_t& first, int64_t& second, int64_t& third) const {
    first = 0;
    second = 0;
    third = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t coordinate = index % sizes[d];
      index /= sizes[d];
      first += coordinate * strides[0][d];
      second += coordinate * strides[1][d];
      third += coordinate * strides[2][d];
    }
  }
};

// The indexer for three operands broadcast to `out`; at most kMaxDeviceDims dimensions.
inline TernaryBroadcastIndexer make_ternary_broadcast_indexer(const Shape& first, const Shape& second,
                                                              const Shape& third, const Shape& out) {
  WISP_CHECK(out.size() <= static_cast<size_t>(kMaxDeviceDims), "CUDA kernels: expected at most ", kMaxDeviceDims,
             " dimensions but got shape ", out);
  TernaryBroadcastIndexer indexer;
  indexer.rank = static_cast<int>(out.size());
  for (size_t d = 0; d < out.size(); ++d) indexer.sizes[d] = out[d];
  broadcast_strides_into(first, out, indexer.strides[0]);
  broadcast_strides_into(second, out, indexer.strides[1]);
  broadcast_strides_into(third, out, indexer.strides[2]);
  return indexer;
}

// The reduction behind sum_to_shape: each output element j (of `out`, which broadcasts to `in`'s
// shape) sums the input elements that broadcast to it. `kept` dimensions are those where out has
// in's size, `reduced` the others; in_offset(j, r) is the input offset of the r-th element summed
// into output j.
struct ReductionIndexer {
  int kept_rank = 0, reduced_rank = 0;
  int64_t kept_sizes[kMaxDeviceDims] = {};
  int64_t kept_strides[kMaxDeviceDims] = {};  // in the input
  int64_t reduced_sizes[kMaxDeviceDims] = {};
  int64_t reduced_strides[kMaxDeviceDims] = {};
  int64_t reduced_count = 1;  // elements summed per output

  WISP_HOST_DEVICE int64_t in_offset(int64_t out_index, int64_t reduced_index) const {
    int64_t offset = 0;
    for (int d = kept_rank - 1; d >= 0; --d) {
      offset += (out_index % kept_sizes[d]) * kept_strides[d];
      out_index /= kept_sizes[d];
    }
    for (int d = reduced_rank - 1; d >= 0; --d) {
      offset += (reduced_index % reduced_sizes[d]) * reduced_strides[d];
      reduced_index /= reduced_sizes[d];
    }
    return offset;
  }
};

inline ReductionIndexer make_reduction_indexer(const Shape& in, const Shape& out) {
  WISP_CHECK(in.size() <= static_cast<size_t>(kMaxDeviceDims), "CUDA kernels: expected at most ", kMaxDeviceDims,
             " dimensions but got shape ", in);
  ReductionIndexer indexer;
  const size_t shift = in.size() - out.size();
  int64_t stride = 1;
  int64_t strides[kMaxDeviceDims] = {};
  for (int64_t d = static_cast<int64_t>(in.size()) - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= in[static_cast<size_t>(d)];
  }
  for (size_t d = 0; d < in.size(); ++d) {
    const bool kept = d >= shift && out[d - shift] == in[d] && in[d] != 1;
    if (kept) {
      indexer.kept_sizes[indexer.kept_rank] = in[d];
      indexer.kept_strides[indexer.kept_rank++] = strides[d];
    } else if (in[d] != 1) {
      indexer.reduced_sizes[indexer.reduced_rank] = in[d];
      indexer.reduced_strides[indexer.reduced_rank++] = strides[d];
      indexer.reduced_count *= in[d];
    }
  }
  return indexer;
}

// Grid-stride launches: threads per block, and blocks = enough to cover n once, capped (each thread
// then loops). At least one block, so that a launch for n = 0 is never made with an empty grid.
constexpr int kThreadsPerBlock = 256;
constexpr int64_t kMaxBlocks = int64_t(1) << 16;
inline int64_t blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks);
}

}  // namespace wisp::kernels
