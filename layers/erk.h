// Erdős–Rényi-Kernel (ERK) sparsity budgets (Evci et al., "Rigging the Lottery", 2020): one overall
// sparsity spread over the layers of a model so that small layers keep more of their connections.
//
//   std::vector<double> sparsity = nn::erk_sparsities({{2000, 784}, {10, 2000}}, 0.9);
//   nn::SparseLinear first(784, 2000, nn::SparseLinearOptions().sparsity(sparsity[0]));
#pragma once

#include <cstdint>
#include <vector>

namespace wisp::nn {

// Per-layer sparsities for weights of the given shapes ([out, in] each, positive) that together
// keep the connections of the overall `sparsity` in [0, 1), as RigL's sparse_utils computes them:
// the density of layer l is ε · (out_l + in_l) / (out_l · in_l) (for fully connected layers
// Erdős–Rényi and ERK coincide), with ε chosen so that the kept connections add up to
// Σ_l (N_l − ⌊sparsity · N_l⌋), N_l = out_l · in_l. A layer whose density would exceed 1 becomes
// dense (sparsity 0): its ⌊sparsity · N_l⌋ absent connections are taken from the others, ε is
// solved again without it, and so on until every density is at most 1. The layers' connections,
// round((1 − s_l) · N_l) each, then match the budget to within rounding (one per layer); a layer
// that would get every connection reports sparsity 0.
// Throws wisp::Error for no shapes, a shape that is not two positive sizes, a sparsity outside
// [0, 1), or a budget that leaves a layer no connection.
std::vector<double> erk_sparsities(const std::vector<std::vector<int64_t>>& shapes, double sparsity);

}  // namespace wisp::nn
