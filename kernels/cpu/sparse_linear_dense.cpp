// kernels/cpu/sparse_linear_dense.h: the dense twin of the sparse linear forward and grad_input, and
// the measured choice between it and the sparse kernels.
//
// Why the results are bit-identical: the sparse kernel computes, per output and batch lane,
// acc = splat(init); acc += w_k · x_k over the nonzeros in increasing index order (spmm_tile in
// kernels/cpu/sparse_spmm.h). The dense loop runs the same expression over every index in increasing
// order, so it adds the same terms in the same order, plus terms +0 · x for the absent connections.
// For finite x such a term is ±0 (or, contracted to a multiply-add, exactly acc), and acc + ±0 ==
// acc for every acc except −0 (−0 + +0 is +0). acc is never −0: splat adds its value to a zero vector
// (a −0 bias starts as +0), and a round-to-nearest sum is −0 only when both addends are. So every
// extra term leaves acc unchanged, inf and NaN included. The one premise the dense functions check
// is finite inputs (0 · inf is NaN); where it fails they run the sparse kernel.
#include "wisp/kernels/cpu/sparse_linear_dense.h"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/kernel_choice.h"
#include "wisp/kernels/cpu/parallel.h"
#include "wisp/kernels/cpu/sparse_linear.h"
#include "wisp/kernels/cpu/sparse_simd.h"
#include "wisp/kernels/cpu/sparse_spmm.h"

namespace wisp::kernels::cpu {
namespace {

using sparse_detail::kLanes;
using sparse_detail::kMaxTileVectors;
using sparse_detail::kOutputBlock;

// The dense loop's vector: the machine's own width (kernels/cpu/sparse_simd.h, as spmm_tile's), with
// spmm_tile's per-lane expression (`acc += w * x`, which the compiler contracts to a multiply-add,
// or not, in both alike).
using sparse_detail::kNativeLanes;
using sparse_detail::load_native;
using sparse_detail::NativeVec;
using sparse_detail::shape_key;
using sparse_detail::with_tile_width;

// Rows of `matrix` [n_out, n_dense] in [begin, end), batch tile [tile_begin, tile_begin + tile_rows),
// tile_rows <= Vectors·kLanes: result[r, o] = init[o] + Σ_i matrix[o, i] · dense[i, r], i
// increasing. spmm_tile's loop and per-lane expression with every i in place of the nonzeros (see
// the top of this file).
template <int Vectors>
void dense_tile(const float* matrix, int64_t n_dense, const float* dense, int64_t stride, int64_t tile_begin,
                int64_t tile_rows, const float* init, float* result, int64_t n_out, int64_t begin, int64_t end) {
  constexpr int kWidth = Vectors * kLanes;
  constexpr int kNative = kWidth / kNativeLanes;
  alignas(64) float block[kOutputBlock][kWidth];
  const float* tile = dense + tile_begin;
  for (int64_t block_begin = begin; block_begin < end; block_begin += kOutputBlock) {
    const int64_t block_end = std::min(end, block_begin + kOutputBlock);
    for (int64_t o = block_begin; o < block_end; ++o) {
      NativeVec acc[kNative];
      const NativeVec start = NativeVec{} + (init ? init[o] : 0.0f);  // as splat: −0 becomes +0
      for (int v = 0; v < kNative; ++v) acc[v] = start;
      const float* weights = matrix + o * n_dense;
      for (int64_t i = 0; i < n_dense; ++i) {
        const float w = weights[i];
        const float* column = tile + i * stride;
        for (int v = 0; v < kNative; ++v) acc[v] += w * load_native(column + v * kNativeLanes);
      }
      for (int v = 0; v < kNative; ++v) std::memcpy(&block[o - block_begin][v * kNativeLanes], &acc[v], sizeof acc[v]);
    }
    const int64_t width = block_end - block_begin;
    for (int64_t r = 0; r < tile_rows; ++r) {
      float* out = result + (tile_begin + r) * n_out + block_begin;
      for (int64_t o = 0; o < width; ++o) out[o] = block[o][r];
    }
  }
}

// result [rows, n_out] = init + matrix · dense, dense [n_dense, stride] feature-major (stride > 1).
// Every output costs the same, so threads take equal contiguous ranges of outputs; each output is
// computed by one thread in a fixed order, so the result does not depend on the thread count.
void dense_product(const float* matrix, int64_t n_dense, const float* dense, int64_t stride, int64_t rows,
                   const float* init, float* result, int64_t n_out) {
#pragma omp parallel if (n_out * n_dense * stride > kParallelThreshold)
  {
    const int64_t parts = omp_get_num_threads(), part = omp_get_thread_num();
    const int64_t begin = n_out * part / parts, end = n_out * (part + 1) / parts;
    for (int64_t tile_begin = 0; begin < end && tile_begin < rows; tile_begin += kMaxTileVectors * kLanes) {
      const int64_t tile_rows = std::min<int64_t>(rows - tile_begin, kMaxTileVectors * kLanes);
      const int vectors = static_cast<int>((tile_rows + kLanes - 1) / kLanes);
      const auto run = [&](auto vectors_tag) {
        dense_tile<decltype(vectors_tag)::value>(matrix, n_dense, dense, stride, tile_begin, tile_rows, init, result,
                                                 n_out, begin, end);
      };
      with_tile_width(static_cast<int>(vectors), run);
    }
  }
}

// True unless some element is inf or NaN (exponent bits all set); vectorises, no early exit.
bool all_finite(const float* data, int64_t count) {
  uint32_t non_finite = 0;
#pragma omp simd reduction(| : non_finite)
  for (int64_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, data + i, sizeof bits);
    non_finite |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return non_finite == 0;
}

// Writes values[k] (or 0 when values is null) at each nonzero (o, c) of W into `matrix`: at o·in + c
// (W [out, in]) or, transposed, at c·out + o (Wᵀ [in, out]).
template <class Pointer, class Column>
void scatter_nonzeros(const Pointer* row_pointers, const Column* column_indices, const float* values, int64_t out,
                      int64_t in, bool transposed, float* matrix) {
  for (int64_t o = 0; o < out; ++o) {
    const int64_t k_end = static_cast<int64_t>(row_pointers[o + 1]);
    for (int64_t k = static_cast<int64_t>(row_pointers[o]); k < k_end; ++k) {
      const int64_t c = static_cast<int64_t>(column_indices[k]);
      matrix[transposed ? c * out + o : o * in + c] = values ? values[k] : 0.0f;
    }
  }
}

void scatter_structure(const SparseStructure& structure, const float* values, bool transposed, float* matrix) {
  visit_index(structure.row_pointers.dtype(), [&](auto pointer_tag) {
    using Pointer = typename decltype(pointer_tag)::type;
    visit_index(structure.column_indices.dtype(), [&](auto column_tag) {
      using Column = typename decltype(column_tag)::type;
      scatter_nonzeros(pointer<Pointer>(structure.row_pointers), pointer<Column>(structure.column_indices), values,
                       structure.out_features, structure.in_features, transposed, matrix);
    });
  });
}

// Runs product(matrix) with W (or Wᵀ) dense in `matrix`. The buffer is the calling thread's and
// kept all zeros between calls (the nonzeros are written before and zeroed after), so a call costs
// O(nnz) on top of the product, not O(out · in).
template <class Product>
void with_dense_weights(const Tensor& values, const SparseStructure& structure, bool transposed, Product product) {
  thread_local std::vector<float> buffer;
  const size_t size = static_cast<size_t>(structure.out_features * structure.in_features);
  if (buffer.size() < size) buffer.resize(size);  // the new elements are zeros
  scatter_structure(structure, pointer<float>(values), transposed, buffer.data());
  product(static_cast<const float*>(buffer.data()));
  scatter_structure(structure, nullptr, transposed, buffer.data());
}

// The dense loop reads float32 values and activations only (bfloat16 copies take the sparse kernel).
bool float32_operands(const Tensor& values, const Tensor& activations) {
  return values.dtype() == DType::Float32 && activations.dtype() == DType::Float32;
}

}  // namespace

bool dense_sparse_linear_applies(int64_t rows, const SparseStructure& structure) {
  return rows >= 2 && structure.out_features * structure.in_features <= kMaxDenseSparseLinearElements;
}

bool sparse_linear_forward_dense(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                                 const Tensor& bias, const Tensor& output) {
  if (!dense_sparse_linear_applies(input.rows, structure) || !float32_operands(values, input.data) ||
      !all_finite(pointer<float>(input.data), input.data.numel())) {
    sparse_linear_forward(input, values, structure, bias, output);
    return false;
  }
  const float* init = bias.defined() ? pointer<float>(bias) : nullptr;
  with_dense_weights(values, structure, /*transposed=*/false, [&](const float* matrix) {
    dense_product(matrix, structure.in_features, pointer<float>(input.data), input.stride(), input.rows, init,
                  mutable_pointer<float>(output), structure.out_features);
  });
  return true;
}

bool sparse_linear_backward_input_dense(const FeatureMajor& grad_output, const Tensor& values,
                                        const SparseStructure& structure, const Tensor& grad_input) {
  if (!dense_sparse_linear_applies(grad_output.rows, structure) || !float32_operands(values, grad_output.data) ||
      !all_finite(pointer<float>(grad_output.data), grad_output.data.numel())) {
    sparse_linear_backward_input(grad_output, values, structure, grad_input);
    return false;
  }
  // grad_input[r, i] = Σ_o W[o, i] · g[r, o], o increasing: the CSC order's sum, over Wᵀ's rows.
  with_dense_weights(values, structure, /*transposed=*/true, [&](const float* matrix) {
    dense_product(matrix, structure.out_features, pointer<float>(grad_output.data), grad_output.stride(),
                  grad_output.rows, nullptr, mutable_pointer<float>(grad_input), structure.in_features);
  });
  return true;
}

void sparse_linear_forward_measured(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                                    const Tensor& bias, const Tensor& output) {
  if (!dense_sparse_linear_applies(input.rows, structure) || !float32_operands(values, input.data)) {
    sparse_linear_forward(input, values, structure, bias, output);
    return;
  }
  run_fastest(shape_key("sparse_linear_forward", structure, input.rows),
              {{"sparse", [&] { sparse_linear_forward(input, values, structure, bias, output); }},
               {"dense", [&] { sparse_linear_forward_dense(input, values, structure, bias, output); }}});
}

void sparse_linear_backward_input_measured(const FeatureMajor& grad_output, const Tensor& values,
                                           const SparseStructure& structure, const Tensor& grad_input) {
  if (!dense_sparse_linear_applies(grad_output.rows, structure) || !float32_operands(values, grad_output.data)) {
    sparse_linear_backward_input(grad_output, values, structure, grad_input);
    return;
  }
  run_fastest(shape_key("sparse_linear_backward_input", structure, grad_output.rows),
              {{"sparse", [&] { sparse_linear_backward_input(grad_output, values, structure, grad_input); }},
               {"dense", [&] { sparse_linear_backward_input_dense(grad_output, values, structure, grad_input); }}});
}

}  // namespace wisp::kernels::cpu
