// Connectivity builders for nn::SparseLinear (DESIGN.md §6): which (output, input) pairs a sparse
// layer connects.
//
// Every builder returns an Int64 tensor of shape [2, nnz] on the CPU: row 0 holds output indices
// ("row", in [0, out_features)), row 1 input indices ("col", in [0, in_features)), sorted by
// (row, col), without duplicates — the seed package's `(2, nnz)` layout, ready for CSR pointers.
// None of them allocates anything of size in_features × out_features.
//
// Randomness is counter-based (core/random.h) and keyed by the `seed` argument only: the default
// generator is neither read nor advanced, and the result does not depend on the thread count.
// All functions are thread-safe. Invalid arguments throw wisp::Error stating expected vs actual, and
// so do sizes no allocation can hold or the system has no memory for.
#pragma once

#include <cstdint>

#include "wisp/core/tensor.h"

namespace wisp::nn {

// The number of connections a sparsity leaves: round((1 - sparsity) · in_features · out_features).
// Requires positive features, a product that fits int64, sparsity in [0, 1), and a result of at
// least 1 connection (so e.g. 10 × 10 at sparsity 0.999 is an error, not an empty layer).
int64_t connections_for_sparsity(int64_t in_features, int64_t out_features, double sparsity);

// Exactly `nnz` distinct connections drawn uniformly without replacement from the
// out_features × in_features grid (every nnz-subset equally likely), nnz in [1, in · out].
// Algorithm: Vitter's sequential sampling, Method D (switching to Method A when nnz/(in·out) ≥
// 1/13, as Vitter prescribes), over the row-major cell index. It emits cells already in increasing
// order, so no sort, hash set or O(in · out) buffer is needed.
// Time: O(nnz) expected; memory: the [2, nnz] result only. Sequential (so trivially independent of
// the thread count): 50000 × 50000 at 99.9% (2.5M connections) takes about 0.1 s on one core.
Tensor random_connectivity(int64_t in_features, int64_t out_features, int64_t nnz, uint64_t seed);

// Small-world connectivity (the SparseLinear PDF): each pair is connected independently with
// probability P_ij = (d_ij + 1)^(-λ), where λ ≥ 0 is found by bisection so that the expected
// count Σ P_ij equals nnz = connections_for_sparsity(in, out, sparsity) (to a relative 1e-9). The
// realised count is therefore random: mean nnz, standard deviation below √nnz. An empty draw
// (likely only for nnz ≈ 1) is redrawn from the next stream, so the result always has nnz ≥ 1.
//
// Distance: the in_features inputs and out_features outputs are laid on one line, each set centred
// on the same midpoint with unit spacing — input j at j − (in − 1)/2, output i at i − (out − 1)/2 —
// and d_ij = |pos_i − pos_j| = |i − j − (out − in)/2| (a half-integer when out − in is odd). This is
// the reading of DESIGN.md §6; it reproduces the Σ P(λ = 1) = 10,912 that research/algorithms.md
// quotes for 784 → 2000. The PDF's metric (research/algorithms.md, bug 6) is
// d = ||i − j| − |out − in|/2|: it agrees with ours wherever i − j has the sign of out − in, but
// folds i − j about 0, adding a second "nearest" diagonal at i − j = −(out − in)/2 whose pairs sit
// |out − in| apart on the line; the seed's code used yet another shift. Ours is a true distance.
//
// λ search: Σ P is continuous and decreasing in λ, equal to in · out ≥ nnz at λ = 0, and tends to
// Z, the number of pairs at distance 0 (P = 1 for every λ), as λ → ∞. Z = min(in, out) when
// out − in is even and 0 when it is odd. So a λ exists exactly when nnz ≥ Z; otherwise (e.g.
// 100 × 100 at 99.5%: nnz = 50 < Z = 100) a wisp::Error names the request and the fewest
// connections possible. The bracket [0, λ_hi] grows λ_hi by doubling up to 256 (beyond which every
// P with d > 0 is below 1.5^-256), then bisects at most 200 times, so it always terminates.
// Each evaluation of Σ P is O(in + out): pairs are counted per distinct distance, never the dense
// P matrix.
//
// Sampling, per output row: P falls with the distance from the row's position, so two walks go
// outward from it (increasing and decreasing input index). Each walk jumps geometrically with a
// bound q ≥ P on the rest of the walk (the P of its last candidate) and accepts a candidate with
// probability P/q (thinning) — exactly independent Bernoulli(P_ij) draws in O(connections + a few
// rejections) per row. Rows run in parallel (OpenMP), each with its own counter-based stream keyed
// by (seed, row). Time: O(in + out) per bisection step plus O(nnz + out) expected sampling work;
// 784 → 2000 at 90% takes milliseconds, 50000 × 50000 at 99.9% well under a second.
// Memory: the distance histogram, 8 bytes per input and output feature, plus the connections.
Tensor small_world_connectivity(int64_t in_features, int64_t out_features, double sparsity, uint64_t seed);

// Validates a user's connectivity and returns it coalesced: sorted by (row, col) with duplicate
// pairs merged. `connectivity` must be an Int64 tensor of shape [2, nnz] with nnz > 0 (any
// device; it is read back to the CPU), every row index in [0, out_features) and every col index in
// [0, in_features). Errors name the offending value and its position, e.g.
// "SparseLinear: connectivity row index 2005 at position 17 out of range [0, 2000)".
// Time O(nnz + out_features + Σ_rows k log k) (a counting sort by row, then each row's columns)
// when nnz ≥ out_features, else O(nnz log nnz) (one sort of the pairs); memory O(nnz) either way,
// so a few connections of a layer with huge out_features cost only their own size. The input is
// not modified.
Tensor coalesce_connectivity(const Tensor& connectivity, int64_t in_features, int64_t out_features);

}  // namespace wisp::nn
