// Index arithmetic for broadcasting on the CPU: maps each row of the output (all dimensions but the
// last) to the offsets of the operands' rows. Shared by the elementwise and comparison kernels.
#pragma once

#include <cstdint>
#include <vector>

#include "wisp/core/shape.h"

namespace wisp::kernels::cpu {

// Strides of `operand` aligned to `out`'s rank, with 0 where the operand is broadcast.
std::vector<int64_t> broadcast_strides(const Shape& operand, const Shape& out);

// For an output of shape `out`, viewed as rows of its last dimension: the element offset of row
// `row` in an operand with `strides` (from broadcast_strides).
inline int64_t row_offset(const Shape& out, const std::vector<int64_t>& strides, int64_t row) {
  int64_t offset = 0;
  for (int64_t d = static_cast<int64_t>(out.size()) - 2; d >= 0; --d) {
    const int64_t size = out[static_cast<size_t>(d)];
    offset += (row % size) * strides[static_cast<size_t>(d)];
    row /= size;
  }
  return offset;
}

// Calls body(out_offset, a_offset, b_offset, length, a_step, b_step) once per output row, rows in
// parallel: out elements [out_offset, out_offset + length) combine a[a_offset + k * a_step] and
// b[b_offset + k * b_step]. Steps are 0 (broadcast) or 1.
template <class Body>
void for_each_broadcast_row(const Shape& a, const Shape& b, const Shape& out, Body body) {
  const int64_t length = out.empty() ? 1 : out.back();
  const int64_t rows = length == 0 ? 0 : out.numel() / length;
  const std::vector<int64_t> a_strides = broadcast_strides(a, out), b_strides = broadcast_strides(b, out);
  const int64_t a_step = out.empty() ? 0 : a_strides.back(), b_step = out.empty() ? 0 : b_strides.back();
#pragma omp parallel for schedule(static) if (out.numel() > 32768)
  for (int64_t row = 0; row < rows; ++row) {
    body(row * length, row_offset(out, a_strides, row), row_offset(out, b_strides, row), length, a_step, b_step);
  }
}

}  // namespace wisp::kernels::cpu
