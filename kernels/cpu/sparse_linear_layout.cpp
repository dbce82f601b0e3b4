// The layouts the sparse linear CPU kernels read (kernels/cpu/sparse_linear.h): the CSR/CSC
// structure built from Int64 [2, nnz] indices, and activations x [rows, features] batch-major copied
// to feature-major data [features, stride] (stride = rows padded to kFeatureMajorLanes, padding 0).
#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "wisp/kernels/access.h"
#include "wisp/kernels/bfloat16_math.h"
#include "wisp/kernels/cpu/parallel.h"
#include "wisp/kernels/cpu/sparse_linear.h"
#include "wisp/kernels/cpu/sparse_simd.h"

namespace wisp::kernels::cpu {
namespace {

using sparse_detail::kNativeLanes;
using sparse_detail::load_native;
using sparse_detail::store_fence;
using sparse_detail::stream_store;

// to_feature_major: features per step (kTransposeBlock contiguous reads per batch row), and when its
// output goes around the caches. A transposed operand of several MB written with ordinary stores
// leaves its lines modified in the writing core's L2, and the product that follows gathers them
// from both cores; written with streaming stores they come back clean from memory. Below about 1 MB
// the operand stays in L2 and streaming measured slower, hence streaming from 1 MB (measurements:
// docs/benchmarks.md, Kernel design log). Batches above kMaxBufferedStride rows keep the plain loop.
constexpr int kTransposeBlock = 16;
constexpr int64_t kStreamingTransposeBytes = int64_t(1) << 20;
constexpr int64_t kMaxBufferedStride = 256;

}  // namespace

// indices: Int64 [2, nnz] sorted by (row, col). CSR from the sorted rows; CSC by a counting sort on
// the column, which keeps rows increasing within each column.
void build_sparse_structure(const Tensor& indices, const SparseStructure& structure) {
  const int64_t nnz = indices.size(1), out = structure.out_features, in = structure.in_features;
  const int64_t* rows = pointer<int64_t>(indices);
  const int64_t* cols = rows + nnz;
  const SparseIndexDTypes dtypes = structure.index_dtypes();
  visit_pointer_and_feature_index(dtypes.pointers, dtypes.columns, [&](auto pointer_tag, auto column_tag) {
    visit_pointer_and_feature_index(dtypes.pointers, dtypes.rows, [&](auto, auto row_tag) {
      using Index = typename decltype(pointer_tag)::type;
      using Column = typename decltype(column_tag)::type;
      using Row = typename decltype(row_tag)::type;
      Index* row_pointers = mutable_pointer<Index>(structure.row_pointers);
      Column* column_indices = mutable_pointer<Column>(structure.column_indices);
      Index* column_pointers = mutable_pointer<Index>(structure.column_pointers);
      Row* row_indices = mutable_pointer<Row>(structure.row_indices);
      Index* csc_to_value = mutable_pointer<Index>(structure.csc_to_value);
      std::fill(row_pointers, row_pointers + out + 1, Index(0));
      std::fill(column_pointers, column_pointers + in + 1, Index(0));
      for (int64_t k = 0; k < nnz; ++k) {
        ++row_pointers[rows[k] + 1];
        ++column_pointers[cols[k] + 1];
        column_indices[k] = static_cast<Column>(cols[k]);
      }
      for (int64_t r = 0; r < out; ++r) row_pointers[r + 1] += row_pointers[r];
      for (int64_t c = 0; c < in; ++c) column_pointers[c + 1] += column_pointers[c];
      std::vector<Index> next(column_pointers, column_pointers + in);  // next free CSC slot per column
      for (int64_t k = 0; k < nnz; ++k) {
        const Index position = next[static_cast<size_t>(cols[k])]++;
        row_indices[position] = static_cast<Row>(rows[k]);
        csc_to_value[position] = static_cast<Index>(k);
      }
    });
  });
}

// batch_major: [rows, features]; feature_major.data: [features, stride], stride >= rows.
void to_feature_major(const Tensor& batch_major, const FeatureMajor& feature_major) {
  const int64_t rows = feature_major.rows, features = feature_major.features(), stride = feature_major.stride();
  const float* x = pointer<float>(batch_major);
  if (feature_major.data.dtype() == DType::BFloat16) {  // rounded while transposing: half the bytes to read later
    uint16_t* xt = mutable_pointer<uint16_t>(feature_major.data);
    const int64_t blocks = (features + kTransposeBlock - 1) / kTransposeBlock;
#pragma omp parallel for schedule(static) if (rows * features > kParallelThreshold)
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t f_begin = block * kTransposeBlock, f_end = std::min(features, f_begin + kTransposeBlock);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t f = f_begin; f < f_end; ++f) xt[f * stride + r] = bfloat16_from_float(x[r * features + f]);
      for (int64_t f = f_begin; f < f_end; ++f) std::fill(xt + f * stride + rows, xt + (f + 1) * stride, uint16_t(0));
    }
    return;
  }
  float* xt = mutable_pointer<float>(feature_major.data);
  const int64_t blocks = (features + kTransposeBlock - 1) / kTransposeBlock;
  const bool streaming = feature_major.data.nbytes() >= kStreamingTransposeBytes && stride <= kMaxBufferedStride &&
                         reinterpret_cast<uintptr_t>(xt) % 64 == 0;
  // Features [f_begin, f_begin + width) into destination [width, stride]: xt's own rows for them, or
  // a buffer of the same layout that is then streamed there.
  const auto transpose_block = [&](int64_t f_begin, int64_t width, float* destination) {
    if (width == kTransposeBlock) {  // a constant trip count, which the compiler unrolls
      for (int64_t r = 0; r < rows; ++r) {
        const float* source = x + r * features + f_begin;
        for (int f = 0; f < kTransposeBlock; ++f) destination[f * stride + r] = source[f];
      }
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        const float* source = x + r * features + f_begin;
        for (int64_t f = 0; f < width; ++f) destination[f * stride + r] = source[f];
      }
    }
    if (rows < stride)
      for (int64_t f = 0; f < width; ++f)
        std::fill(destination + f * stride + rows, destination + (f + 1) * stride, 0.0f);
  };
#pragma omp parallel if (rows * features > kParallelThreshold)
  {
#pragma omp for schedule(static) nowait
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t f_begin = block * kTransposeBlock, width = std::min(features - f_begin, int64_t(kTransposeBlock));
      float* destination = xt + f_begin * stride;  // 64-byte aligned when streaming: stride is a multiple of 16
      if (!streaming) {
        transpose_block(f_begin, width, destination);
        continue;
      }
      alignas(64) float buffer[kTransposeBlock * kMaxBufferedStride];
      transpose_block(f_begin, width, buffer);
      for (int64_t i = 0; i < width * stride; i += kNativeLanes) stream_store(destination + i, load_native(buffer + i));
    }
    if (streaming) store_fence();  // each thread its own streaming stores, before the region's barrier
  }
}

}  // namespace wisp::kernels::cpu
