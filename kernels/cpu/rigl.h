// CPU twin of kernels/rigl.h (RigL's drop, grow and rewire steps). Layouts and contracts are the
// dispatch point's; outputs are allocated there with the right shapes, and arguments are checked.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"
#include "wisp/kernels/rigl.h"

namespace wisp::kernels::cpu {

// values [nnz] float32 -> mask UInt8 [nnz] (1 at the `count` smallest |value|, ties by tie rank).
void smallest_magnitude_mask(const Tensor& values, int64_t count, uint64_t tie_seed, const Tensor& mask);

// grad_output [rows, out], input [rows, in] batch-major float32; dropped UInt8 [nnz] over
// `structure` (unmarked nonzeros stay and are excluded); absent: the positions that compete
// (in · out − staying nonzeros, counted by the dispatch point); positions Int64 [count], written in
// increasing order.
void largest_absent_gradients(const Tensor& grad_output, const Tensor& input, const SparseStructure& structure,
                              const Tensor& dropped, int64_t absent, int64_t count, uint64_t tie_seed,
                              int64_t tile_elements, const Tensor& positions);

// dropped UInt8 [nnz]; grown Int64 [count] increasing; result.indices Int64 [2, new_nnz] and
// result.source Int64 [new_nnz] allocated. Returns how many grown positions are new (source -1).
int64_t rewire_connections(const SparseStructure& structure, const Tensor& dropped, const Tensor& grown,
                           const RewiredConnections& result);

// tensor float32 [n]; source Int64 [n].
void gather_or_zero_(const Tensor& tensor, const Tensor& source);

}  // namespace wisp::kernels::cpu
