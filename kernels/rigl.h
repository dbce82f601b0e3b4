// Dispatch points for RigL's connection updates (DESIGN.md §6; layers/rigl.h drives them): each
// function checks what the kernels rely on, allocates the outputs and calls the CPU twin
// (kernels/cpu/rigl.h) or, for CUDA tensors, the CUDA twin with the same signature
// (kernels/cuda/rigl.h). Nothing here is differentiable or recorded on the tape.
//
// Positions: the connection from input i to output o of an out × in matrix is position o · in + i
// (Int64), so sorting positions sorts by (row, col) like the values of a SparseStructure.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"
#include "wisp/kernels/rigl_math.h"
#include "wisp/kernels/sparse_linear.h"

namespace wisp::kernels {

// rigl_tie_rank(index, seed), the order among equal magnitudes in every RigL kernel, is in
// kernels/rigl_math.h with the selection keys both twins share.

// values [nnz] float32 -> UInt8 [nnz], 1 at the `count` nonzeros with the smallest |value| (among
// equal magnitudes the lower rigl_tie_rank(index, tie_seed) goes first), 0 elsewhere.
// 0 ≤ count ≤ nnz. O(nnz).
Tensor smallest_magnitude_mask(const Tensor& values, int64_t count, uint64_t tie_seed = 0);

// The `count` positions (o · in + i) not held by a staying nonzero with the largest |G[o, i]|, where
// G = grad_outputᵀ · input is the dense gradient of an out × in weight (G[o, i] = Σ_r
// grad_output[r, o] · input[r, i]), as Int64 [count] in increasing order; among equal magnitudes
// the lower rigl_tie_rank(position, tie_seed) wins. grad_output [rows, out] and input [rows, in]
// float32 batch-major; dropped UInt8 [nnz] is smallest_magnitude_mask's result: the nonzeros it marks
// compete like absent positions (RigL regrows just-dropped connections too), the others stay and
// are excluded. count ≤ in · out − (nonzeros that stay).
//
// G is never materialised: tiles of about `tile_elements` entries (0: the default, 2^20 per thread)
// are computed one after the other while a running top-k keeps the best candidates, so memory is
// O(threads · (tile_elements + count) + rows · (in + out)). The scores that rank are fp32 dot
// products; on AVX512-BF16 CPUs bf16 products screen the tiles first and only entries that could
// reach the top-k are rescored (kernels/cpu/rigl_bf16_screen.cpp states the error bound). The
// result does not depend on the tiling or the thread count.
Tensor largest_absent_gradients(const Tensor& grad_output, const Tensor& input, const SparseStructure& structure,
                                const Tensor& dropped, int64_t count, uint64_t tie_seed = 0, int64_t tile_elements = 0);

// A connectivity after a RigL update.
struct RewiredConnections {
  Tensor indices;               // Int64 [2, nnz]: row 0 = output, row 1 = input, sorted by (row, col)
  Tensor source;                // Int64 [nnz]: for each new nonzero, the old nonzero it continues, or -1 when new
  int64_t new_connections = 0;  // how many sources are -1: grown where there was no connection
};

// The old nonzeros of `structure` without those marked in `dropped` (UInt8 [nnz]), plus `grown`
// (Int64 [count] increasing positions, none of them a nonzero that stays), merged in (row, col)
// order. A grown position that was just dropped continues its old nonzero (source ≥ 0), as in RigL's
// reference code; every other grown position is new (source −1). The result has nnz − dropped +
// count nonzeros.
RewiredConnections rewire_connections(const SparseStructure& structure, const Tensor& dropped, const Tensor& grown);

// In place: tensor[j] = old[source[j]], or 0 where source[j] < 0, for tensor float32 [n] and
// source Int64 [n] (a copy of the old values is taken first). A source of n or more is a wisp::Error,
// raised before anything is written.
void gather_or_zero_(const Tensor& tensor, const Tensor& source);

// Rewrites the tensors of `structure` in place from `indices` (Int64 [2, nnz], sorted by (row, col)
// without duplicates, the same nnz): the handles that modules registered as buffers stay valid. Each
// tensor's version counter counts it, so a graph saved through the old structure refuses to
// back-propagate.
void rebuild_sparse_structure_(const SparseStructure& structure, const Tensor& indices);

}  // namespace wisp::kernels
