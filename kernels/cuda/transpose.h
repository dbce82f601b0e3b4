// A tiled transposition for the CUDA twins (include only from kernels/cuda/*.cu): SparseLinear's
// batch-major <-> feature-major conversions.
#pragma once

#include <algorithm>

#include "wisp/kernels/cuda/launch.h"

namespace wisp::kernels::cuda {

constexpr int kTransposeTile = 32;
constexpr int kTransposeTileRowsPerPass = 8;

// destination [source_columns, destination_stride]: destination[j, i] = source[i, j] + row_bias[i]
// (row_bias [source_rows] or null) for i < source_rows, and 0 for source_rows <= i < destination_stride
// (the zero padding of the feature-major layout). source [source_rows, source_columns] row-major.
// Through a 32 x 32 shared-memory tile, so that reads and writes are both coalesced; the extra
// column keeps a tile's columns in different banks. Block (32, 8); grid (⌈destination_stride/32⌉,
// ⌈source_columns/32⌉). A template so that every .cu including this header may instantiate it.
template <class T>
__global__ void transpose_kernel(const T* source, int64_t source_rows, int64_t source_columns, const T* row_bias,
                                 int64_t destination_stride, T* destination) {
  __shared__ T tile[kTransposeTile][kTransposeTile + 1];
  const int64_t i_start = static_cast<int64_t>(blockIdx.x) * kTransposeTile;
  const int64_t j_start = static_cast<int64_t>(blockIdx.y) * kTransposeTile;
  for (int t = threadIdx.y; t < kTransposeTile; t += kTransposeTileRowsPerPass) {
    const int64_t i = i_start + t, j = j_start + threadIdx.x;
    if (j < source_columns)
      tile[t][threadIdx.x] =
          i < source_rows ? source[i * source_columns + j] + (row_bias != nullptr ? row_bias[i] : T{0}) : T{0};
  }
  __syncthreads();
  for (int t = threadIdx.y; t < kTransposeTile; t += kTransposeTileRowsPerPass) {
    const int64_t j = j_start + t, i = i_start + threadIdx.x;
    if (j < source_columns && i < destination_stride) destination[j * destination_stride + i] = tile[threadIdx.x][t];
  }
}

// Launches transpose_kernel on the current device's stream.
inline void transpose(const float* source, int64_t source_rows, int64_t source_columns, const float* row_bias,
                      int64_t destination_stride, float* destination) {
  if (source_columns == 0 || destination_stride == 0) return;
  const int64_t i_tiles = (destination_stride + kTransposeTile - 1) / kTransposeTile;
  const int64_t j_tiles = (source_columns + kTransposeTile - 1) / kTransposeTile;
  WISP_CHECK(i_tiles <= 2147483647 && j_tiles <= 65535, "CUDA transpose: expected at most ", 65535 * kTransposeTile,
             " columns but got ", source_columns);
  launch_blocks(transpose_kernel<float>, dim3(static_cast<unsigned>(i_tiles), static_cast<unsigned>(j_tiles)),
                dim3(kTransposeTile, kTransposeTileRowsPerPass), source, source_rows, source_columns, row_bias,
                destination_stride, destination);
}

}  // namespace wisp::kernels::cuda
