// CUDA twins of the sparse linear layer: straightforward kernels, correct first (`sparse_bench
// --device cuda` times them beside cuSPARSE's SpMM and SpMV algorithms).
//
// Layouts as the CPU twins: x feature-major [in, stride] (batch along stride, zero padding), so
// that the threads of a warp, which take consecutive batch rows, read consecutive addresses.
//   forward       one thread per (output o, batch row r): y[r, o] = bias[o] + Σ_k w[k] · x[col_k, r];
//                 for one batch row, one warp per output instead (below)
//   grad_input    the same over the CSC order, values through the permutation
//   grad_values   one warp per row o, a lane per nonzero k of it: Σ_r g[o, r] · x[col_k, r]
//   grad_bias     column sums of grad_output (kernels/cuda/linear.h: the CPU twin's order, exact match)
#include "wisp/kernels/cuda/sparse_linear.h"

#include <algorithm>
#include <type_traits>

#include "wisp/kernels/access.h"
#include "wisp/kernels/bfloat16_math.h"
#include "wisp/kernels/cuda/launch.h"
#include "wisp/kernels/cuda/linear.h"
#include "wisp/kernels/cuda/transpose.h"

namespace wisp::kernels::cuda {
namespace {

// Blocks of kThreadsPerBlock for a warp per row over `rows` rows (grid-stride beyond kMaxBlocks).
inline unsigned blocks_for_warps(int64_t rows) {
  constexpr int64_t kWarpsPerBlock = kThreadsPerBlock / 32;
  return static_cast<unsigned>(std::min<int64_t>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock, kMaxBlocks));
}

// result [rows, n_out] batch-major: result[r, o] = init[o] + Σ_{k in row o} value(k) · dense[indices[k], r],
// dense [n_dense, stride] feature-major; permutation null (CSR) or CSC position -> value index.
template <class Index, class Feature, class Value, class Dense>
__global__ void spmm_kernel(int64_t n, const Index* pointers, const Feature* indices, const Value* values,
                            const Index* permutation, const Dense* dense, int64_t stride, int64_t rows,
                            const float* init, int64_t n_out, float* result) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) {
    const int64_t o = j / rows, r = j % rows;
    float total = 0.0f;
    for (Index k = pointers[o]; k < pointers[o + 1]; ++k) {
      const float w = to_float(permutation ? values[permutation[k]] : values[k]);
      total += w * to_float(dense[static_cast<int64_t>(indices[k]) * stride + r]);
    }
    result[r * n_out + o] = init ? total + init[o] : total;
  }
}

// One batch row (dense [n_dense] a vector): one warp per output o, its lanes taking every 32nd
// nonzero of the row, so that a warp's loads of values and indices are 128 contiguous bytes, then a
// shuffle sum. A thread per output would leave most of a GPU idle (20000 outputs are 20000 threads)
// and read each row's values 32 rows apart. result [n_out] = init + Σ_k value(k) · dense[indices[k]].
template <class Index, class Feature, class Value>
__global__ void spmv_warp_kernel(int64_t n_out, const Index* pointers, const Feature* indices, const Value* values,
                                 const Index* permutation, const float* dense, const float* init, float* result) {
  constexpr int kWarp = 32;
  const int lane = static_cast<int>(threadIdx.x % kWarp);
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / kWarp);
  // o is the same for every lane of a warp, so the whole warp runs each loop and each shuffle.
  for (int64_t o = grid_first() / kWarp; o < n_out; o += warps) {
    float total = 0.0f;
    // k in 64 bits: with Int32 indices k + 32 may pass INT32_MAX when nnz is near it.
    for (int64_t k = static_cast<int64_t>(pointers[o]) + lane; k < static_cast<int64_t>(pointers[o + 1]); k += kWarp) {
      const float w = to_float(permutation ? values[permutation[k]] : values[k]);
      total += w * dense[indices[k]];
    }
    for (int offset = kWarp / 2; offset > 0; offset /= 2) total += __shfl_down_sync(0xffffffffu, total, offset);
    if (lane == 0) result[o] = init ? total + init[o] : total;
  }
}

// Launches spmv_warp_kernel with a warp per output (grid-stride beyond kMaxBlocks blocks).
template <class Index, class Feature, class Value>
void launch_spmv_warps(int64_t n_out, const Index* pointers, const Feature* indices, const Value* values,
                       const Index* permutation, const float* dense, const float* init, float* result) {
  if (n_out == 0) return;
  launch_blocks(spmv_warp_kernel<Index, Feature, Value>, dim3(blocks_for_warps(n_out)), dim3(kThreadsPerBlock), n_out,
                pointers, indices, values, permutation, dense, init, result);
}

// grad_values [nnz] = Σ_r g[o, r] · x[col_k, r] for each nonzero k of row o: one warp per row o, its
// lanes taking every 32nd nonzero (coalesced reads of the indices and writes of the results; g's row
// is the same address for the whole warp). A thread per nonzero would first have to find its row by a
// binary search in row_pointers (the structure stores no row per value).
template <class Index, class Feature, class Input>
__global__ void sddmm_warp_kernel(int64_t out, const Index* row_pointers, const Feature* column_indices, const float* g,
                                  const Input* x, int64_t stride, int64_t rows, float* grad_values) {
  constexpr int kWarp = 32;
  const int lane = static_cast<int>(threadIdx.x % kWarp);
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / kWarp);
  for (int64_t o = grid_first() / kWarp; o < out; o += warps) {
    const float* g_row = g + o * stride;
    // k in 64 bits, as in spmv_warp_kernel.
    for (int64_t k = static_cast<int64_t>(row_pointers[o]) + lane; k < static_cast<int64_t>(row_pointers[o + 1]);
         k += kWarp) {
      const Input* x_row = x + static_cast<int64_t>(column_indices[k]) * stride;
      float total = 0.0f;
      for (int64_t r = 0; r < rows; ++r) total += g_row[r] * to_float(x_row[r]);
      grad_values[k] = total;
    }
  }
}

}  // namespace

// feature_major [features, stride] = bfloat16(batch_majorᵀ), zero in the padding rows: a thread per
// destination element (the copy is made once per batch, beside products that read it nnz times).
__global__ void to_feature_major_bfloat16_kernel(int64_t n, const float* source, int64_t rows, int64_t features,
                                                 int64_t stride, uint16_t* destination) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) {
    const int64_t f = j / stride, r = j % stride;
    destination[j] = r < rows ? bfloat16_from_float(source[r * features + f]) : uint16_t(0);
  }
}

void to_feature_major(const Tensor& batch_major, const FeatureMajor& feature_major) {
  const DeviceScope scope(batch_major);
  if (feature_major.data.dtype() == DType::BFloat16) {
    launch(to_feature_major_bfloat16_kernel, feature_major.data.numel(), pointer<float>(batch_major),
           feature_major.rows, feature_major.features(), feature_major.stride(),
           mutable_pointer<uint16_t>(feature_major.data));
    return;
  }
  // feature_major [features, stride] = batch_majorᵀ, zero in the padding rows.
  transpose(pointer<float>(batch_major), feature_major.rows, feature_major.features(), nullptr, feature_major.stride(),
            mutable_pointer<float>(feature_major.data));
}

void sparse_linear_forward(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                           const Tensor& bias, const Tensor& output) {
  const DeviceScope scope(values);
  const SparseIndexDTypes dtypes = structure.index_dtypes();
  visit_float_element(values.dtype(), [&](auto value_tag) {
    visit_float_element(input.data.dtype(), [&](auto input_tag) {
      using Value = typename decltype(value_tag)::type;
      using Input = typename decltype(input_tag)::type;
      visit_pointer_and_feature_index(dtypes.pointers, dtypes.columns, [&](auto tag, auto column_tag) {
        using Index = typename decltype(tag)::type;
        using Column = typename decltype(column_tag)::type;
        const float* init = bias.defined() ? pointer<float>(bias) : static_cast<const float*>(nullptr);
        if constexpr (std::is_same_v<Input, float>) {  // one row is always float32
          if (input.rows == 1 && input.stride() == 1) {
            launch_spmv_warps(structure.out_features, pointer<Index>(structure.row_pointers),
                              pointer<Column>(structure.column_indices), pointer<Value>(values),
                              static_cast<const Index*>(nullptr), pointer<float>(input.data), init,
                              mutable_pointer<float>(output));
            return;
          }
        }
        launch(spmm_kernel<Index, Column, Value, Input>, structure.out_features * input.rows,
               pointer<Index>(structure.row_pointers), pointer<Column>(structure.column_indices),
               pointer<Value>(values), static_cast<const Index*>(nullptr), pointer<Input>(input.data), input.stride(),
               input.rows, init, structure.out_features, mutable_pointer<float>(output));
      });
    });
  });
}

void sparse_linear_backward_input(const FeatureMajor& grad_output, const Tensor& values,
                                  const SparseStructure& structure, const Tensor& grad_input) {
  const DeviceScope scope(values);
  const SparseIndexDTypes dtypes = structure.index_dtypes();
  visit_float_element(values.dtype(), [&](auto value_tag) {
    using Value = typename decltype(value_tag)::type;
    visit_pointer_and_feature_index(dtypes.pointers, dtypes.rows, [&](auto tag, auto row_tag) {
      using Index = typename decltype(tag)::type;
      using Row = typename decltype(row_tag)::type;
      if (grad_output.rows == 1 && grad_output.stride() == 1) {
        launch_spmv_warps(structure.in_features, pointer<Index>(structure.column_pointers),
                          pointer<Row>(structure.row_indices), pointer<Value>(values),
                          pointer<Index>(structure.csc_to_value), pointer<float>(grad_output.data),
                          static_cast<const float*>(nullptr), mutable_pointer<float>(grad_input));
        return;
      }
      launch(spmm_kernel<Index, Row, Value, float>, structure.in_features * grad_output.rows,
             pointer<Index>(structure.column_pointers), pointer<Row>(structure.row_indices), pointer<Value>(values),
             pointer<Index>(structure.csc_to_value), pointer<float>(grad_output.data), grad_output.stride(),
             grad_output.rows, static_cast<const float*>(nullptr), structure.in_features,
             mutable_pointer<float>(grad_input));
    });
  });
}

void sparse_linear_backward_values(const FeatureMajor& grad_output, const FeatureMajor& input,
                                   const SparseStructure& structure, const Tensor& grad_values) {
  const DeviceScope scope(grad_values);
  const SparseIndexDTypes dtypes = structure.index_dtypes();
  visit_float_element(input.data.dtype(), [&](auto input_tag) {
    using Input = typename decltype(input_tag)::type;
    visit_pointer_and_feature_index(dtypes.pointers, dtypes.columns, [&](auto tag, auto column_tag) {
      using Index = typename decltype(tag)::type;
      using Column = typename decltype(column_tag)::type;
      const int64_t out = structure.out_features;
      if (out == 0) return;
      launch_blocks(sddmm_warp_kernel<Index, Column, Input>, dim3(blocks_for_warps(out)), dim3(kThreadsPerBlock), out,
                    pointer<Index>(structure.row_pointers), pointer<Column>(structure.column_indices),
                    pointer<float>(grad_output.data), pointer<Input>(input.data), input.stride(), input.rows,
                    mutable_pointer<float>(grad_values));
    });
  });
}

void sparse_linear_backward_bias(const Tensor& grad_output, const Tensor& grad_bias) {
  column_sums(grad_output, grad_bias);
}

}  // namespace wisp::kernels::cuda
