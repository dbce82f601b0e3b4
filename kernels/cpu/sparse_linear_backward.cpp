// CPU twins of the sparse linear backward (kernels/cpu/sparse_linear.h), for y = x Wᵀ + bias with
// W [out, in] as values [nnz] over a SparseStructure (Int32 or Int64 indices):
//   grad_input [rows, in] batch-major = g · W, an SpMM over the CSC order (kernels/cpu/sparse_spmm.h),
//     with g = grad_output feature-major (data [out, stride]);
//   grad_values [nnz] = Σ_r g[r, row_k] · x[r, col_k] (SDDMM) over the CSR order, g and x both
//     feature-major with the same rows;
//   grad_bias [out] = column sums of grad_output [rows, out] batch-major.
// Each output is computed by one thread in a fixed order (no atomics, no per-thread copies), so
// results do not depend on the thread count. Measurements: docs/benchmarks.md, Kernel design log.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/parallel.h"
#include "wisp/kernels/cpu/sparse_linear.h"
#include "wisp/kernels/cpu/sparse_simd.h"
#include "wisp/kernels/cpu/sparse_spmm.h"

namespace wisp::kernels::cpu {
namespace sparse_detail {
namespace {

// ---- SDDMM: grad_values[k] = Σ_r g[row_k, r] · x[col_k, r], both feature-major ------------------------

// Nonzeros of rows [begin, end), batch tile [tile_begin, tile_begin + Vectors·kLanes). Nonzeros go
// in groups of kLanes (across row boundaries): one product lane group each (native vectors), then
// one reduce_lanes gives the group's kLanes dot products, stored contiguously.
template <int Vectors, class Index, class Feature, class Input>
void sddmm_tile(const Index* row_pointers, const Feature* column_indices, const float* g, const Input* x,
                int64_t stride, int64_t tile_begin, bool accumulate, float* grad_values, int64_t begin, int64_t end) {
  constexpr int kNative = Vectors * kNativePerGroup;
  const int64_t k_begin = row_pointers[begin], k_end = row_pointers[end];
  int64_t row = begin;  // the row of the current nonzero
  NativeVec g_row[kNative];
  const auto load_row = [&] {
    for (int v = 0; v < kNative; ++v) g_row[v] = load_native(g + row * stride + tile_begin + v * kNativeLanes);
  };
  load_row();
  for (int64_t group = k_begin; group < k_end; group += kLanes) {
    const int count = static_cast<int>(std::min<int64_t>(kLanes, k_end - group));
    NativeVec products[kLanes][kNativePerGroup];
    for (int j = 0; j < count; ++j) {
      const int64_t k = group + j;
      if (k >= static_cast<int64_t>(row_pointers[row + 1])) {
        do ++row;
        while (k >= static_cast<int64_t>(row_pointers[row + 1]));
        load_row();
      }
      if (k + kColumnPrefetchToL2 < k_end)
        prefetch_column<Vectors, 2>(x + tile_begin, column_indices[k + kColumnPrefetchToL2], stride);
      if (k + kColumnPrefetchToL1 < k_end)
        prefetch_column<Vectors, 3>(x + tile_begin, column_indices[k + kColumnPrefetchToL1], stride);
      const Input* column = x + static_cast<int64_t>(column_indices[k]) * stride + tile_begin;
      // Each lane: the first lane group's product, then one multiply-add per further group, the same
      // order whatever the native width.
      for (int part = 0; part < kNativePerGroup; ++part) {
        NativeVec p = g_row[part] * load_native(column + part * kNativeLanes);
        for (int v = 1; v < Vectors; ++v) {
          const int n = v * kNativePerGroup + part;
          p += g_row[n] * load_native(column + n * kNativeLanes);
        }
        products[j][part] = p;
      }
    }
    for (int j = count; j < kLanes; ++j)
      for (int part = 0; part < kNativePerGroup; ++part) products[j][part] = NativeVec{};
    NativeVec sums[kNativePerGroup];
    reduce_lanes(&products[0][0], sums);
    float* out = grad_values + group;
    if (count == kLanes) {
      for (int part = 0; part < kNativePerGroup; ++part) {
        float* part_out = out + part * kNativeLanes;
        store_native(part_out, accumulate ? load_native(part_out) + sums[part] : sums[part]);
      }
    } else {
      float lanes[kLanes];
      std::memcpy(lanes, sums, sizeof lanes);
      for (int j = 0; j < count; ++j) out[j] = accumulate ? out[j] + lanes[j] : lanes[j];
    }
  }
}

template <class Index, class Feature, class Input>
void sddmm_rows(const Index* row_pointers, const Feature* column_indices, const float* g, const Input* x,
                int64_t stride, int64_t rows, float* grad_values, int64_t begin, int64_t end) {
  if (stride == 1) {  // one batch row: the outer product g xᵀ sampled at the nonzeros
    for (int64_t o = begin; o < end; ++o) {
      const float g_o = g[o];
      const Index k_end = row_pointers[o + 1];
#pragma omp simd
      for (Index k = row_pointers[o]; k < k_end; ++k) grad_values[k] = g_o * to_float(x[column_indices[k]]);
    }
    return;
  }
  for (int64_t tile_begin = 0; tile_begin < rows; tile_begin += kMaxTileVectors * kLanes) {
    const int64_t tile_rows = std::min<int64_t>(rows - tile_begin, kMaxTileVectors * kLanes);
    const int vectors = static_cast<int>((tile_rows + kLanes - 1) / kLanes);
    const bool accumulate = tile_begin > 0;
    const auto run = [&](auto vectors_tag) {
      sddmm_tile<decltype(vectors_tag)::value>(row_pointers, column_indices, g, x, stride, tile_begin, accumulate,
                                               grad_values, begin, end);
    };
    with_tile_width(static_cast<int>(vectors), run);
  }
}

}  // namespace
}  // namespace sparse_detail

using sparse_detail::NonzeroValue;
using sparse_detail::parallel_rows;
using sparse_detail::run_tile_variants;
using sparse_detail::sddmm_rows;
using sparse_detail::spmm_rows;

// grad_output.data: [out, stride]; values: [nnz]; grad_input: [rows, in]. With a batch the values
// are first gathered into CSC order (one parallel pass whose random reads are independent of each
// other, so they overlap), and the product then streams them like the forward; reading them through
// the permutation inside the product's dependent multiply-add chains measured slower (measurements:
// docs/benchmarks.md, Kernel design log). One batch row keeps the permuted reads with a prefetch: the
// gather would cost as much as the product itself.
void sparse_linear_backward_input(const FeatureMajor& grad_output, const Tensor& values,
                                  const SparseStructure& structure, const Tensor& grad_input) {
  const int64_t rows = grad_output.rows, in = structure.in_features, stride = grad_output.stride();
  const int64_t nnz = structure.nnz();
  const float* g = pointer<float>(grad_output.data);
  float* gx = mutable_pointer<float>(grad_input);
  const SparseIndexDTypes dtypes = structure.index_dtypes();
  visit_float_element(values.dtype(), [&](auto value_tag) {
    using ValueElement = typename decltype(value_tag)::type;
    const ValueElement* w = pointer<ValueElement>(values);
    visit_pointer_and_feature_index(dtypes.pointers, dtypes.rows, [&](auto tag, auto row_tag) {
      using Index = typename decltype(tag)::type;
      using Row = typename decltype(row_tag)::type;
      const Index* column_pointers = pointer<Index>(structure.column_pointers);
      const Row* row_indices = pointer<Row>(structure.row_indices);
      const Index* csc_to_value = pointer<Index>(structure.csc_to_value);
      if (stride == 1) {
        const NonzeroValue<Index, true, ValueElement> value{w, csc_to_value, nnz};
        parallel_rows(column_pointers, in, nnz * stride, [&](int64_t begin, int64_t end) {
          spmm_rows(column_pointers, row_indices, value, g, stride, rows, nullptr, gx, in, begin, end);
        });
        return;
      }
      const Tensor gathered = empty({nnz}, TensorOptions(DType::Float32).device(values.device()));
      float* csc_values = mutable_pointer<float>(gathered);
#pragma omp parallel for schedule(static) if (nnz > kParallelThreshold)
      for (int64_t k = 0; k < nnz; ++k) csc_values[k] = to_float(w[csc_to_value[k]]);
      const NonzeroValue<Index, false> value{csc_values, nullptr, nnz};
      run_tile_variants("sparse_linear_backward_input tiles", structure, rows, stride, [&](bool prefetch) {
        parallel_rows(column_pointers, in, nnz * stride, [&](int64_t begin, int64_t end) {
          spmm_rows(column_pointers, row_indices, value, g, stride, rows, nullptr, gx, in, begin, end, prefetch);
        });
      });
    });
  });
}

// grad_output.data: [out, stride]; input.data: [in, stride]; grad_values: [nnz].
void sparse_linear_backward_values(const FeatureMajor& grad_output, const FeatureMajor& input,
                                   const SparseStructure& structure, const Tensor& grad_values) {
  const int64_t rows = input.rows, out = structure.out_features, stride = input.stride();
  const float* g = pointer<float>(grad_output.data);
  float* gw = mutable_pointer<float>(grad_values);
  const SparseIndexDTypes dtypes = structure.index_dtypes();
  visit_float_element(input.data.dtype(), [&](auto input_tag) {
    using InputElement = typename decltype(input_tag)::type;
    const InputElement* x = pointer<InputElement>(input.data);
    visit_pointer_and_feature_index(dtypes.pointers, dtypes.columns, [&](auto tag, auto column_tag) {
      using Index = typename decltype(tag)::type;
      using Column = typename decltype(column_tag)::type;
      const Index* row_pointers = pointer<Index>(structure.row_pointers);
      const Column* column_indices = pointer<Column>(structure.column_indices);
      parallel_rows(row_pointers, out, structure.nnz() * stride, [&](int64_t begin, int64_t end) {
        sddmm_rows(row_pointers, column_indices, g, x, stride, rows, gw, begin, end);
      });
    });
  });
}

// grad_output: [rows, out] batch-major; grad_bias: [out] (column sums, see kernels/cpu/parallel.h).
void sparse_linear_backward_bias(const Tensor& grad_output, const Tensor& grad_bias) {
  column_sums(pointer<float>(grad_output), grad_output.size(0), grad_output.size(1), mutable_pointer<float>(grad_bias));
}

}  // namespace wisp::kernels::cpu
