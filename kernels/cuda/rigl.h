// CUDA twins of kernels/cpu/rigl.h (RigL's drop, grow and rewire steps), same signatures and
// contracts: they select exactly the connections the CPU twins select (kernels/rigl_math.h's
// orders), except where the CPU and the GPU sum a gradient entry Σ_r g[r, o] · x[r, i] in different
// orders and two magnitudes within float rounding of each other swap. A plain C++ header; compiled
// only when WISP_WITH_CUDA. The structure rebuild after a rewire goes through the host
// (kernels/rigl.cpp, rebuild_sparse_structure_).
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"
#include "wisp/kernels/rigl.h"

namespace wisp::kernels::cuda {

// values [nnz] float32 -> mask UInt8 [nnz] (1 at the `count` smallest |value|, ties by tie rank).
void smallest_magnitude_mask(const Tensor& values, int64_t count, uint64_t tie_seed, const Tensor& mask);

// grad_output [rows, out], input [rows, in] batch-major float32; dropped UInt8 [nnz]; positions
// Int64 [count], written in increasing order. `absent` is unused (the CPU twin's floor estimate
// needs it); tile_elements: entries of G per launch (nothing of G is stored).
void largest_absent_gradients(const Tensor& grad_output, const Tensor& input, const SparseStructure& structure,
                              const Tensor& dropped, int64_t absent, int64_t count, uint64_t tie_seed,
                              int64_t tile_elements, const Tensor& positions);

// dropped UInt8 [nnz]; grown Int64 [count] increasing; result.indices Int64 [2, new_nnz] and
// result.source Int64 [new_nnz] allocated. Returns how many grown positions are new (source -1).
int64_t rewire_connections(const SparseStructure& structure, const Tensor& dropped, const Tensor& grown,
                           const RewiredConnections& result);

// tensor float32 [n]; source Int64 [n].
void gather_or_zero_(const Tensor& tensor, const Tensor& source);

}  // namespace wisp::kernels::cuda
