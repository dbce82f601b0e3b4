#include "wisp/layers/erk.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "wisp/core/error.h"

namespace wisp::nn {

std::vector<double> erk_sparsities(const std::vector<std::vector<int64_t>>& shapes, double sparsity) {
  constexpr const char* op = "erk_sparsities";
  WISP_CHECK(!shapes.empty(), op, ": expected at least one layer shape but got none");
  WISP_CHECK(sparsity >= 0.0 && sparsity < 1.0, op, ": expected an overall sparsity in [0, 1) but got ", sparsity);
  const size_t layers = shapes.size();
  std::vector<double> cells(layers), raw(layers), absent(layers);
  for (size_t l = 0; l < layers; ++l) {
    const std::vector<int64_t>& shape = shapes[l];
    WISP_CHECK(shape.size() == 2 && shape[0] > 0 && shape[1] > 0, op, ": expected layer ", l,
               "'s shape as two positive sizes [out, in] but got ", shape.size(), " sizes",
               shape.size() == 2 ? detail::concat(" [", shape[0], ", ", shape[1], "]") : std::string());
    cells[l] = static_cast<double>(shape[0]) * static_cast<double>(shape[1]);
    raw[l] = (static_cast<double>(shape[0]) + static_cast<double>(shape[1])) / cells[l];
    absent[l] = std::floor(sparsity * cells[l]);
  }
  // Solve ε over the layers still sparse; the largest raw density is the first to pass 1.
  std::vector<bool> dense(layers, false);
  double epsilon = 0.0;
  for (;;) {
    double kept = 0.0, divisor = 0.0, max_raw = 0.0;
    for (size_t l = 0; l < layers; ++l) {
      if (dense[l]) {
        kept -= absent[l];
      } else {
        kept += cells[l] - absent[l];
        divisor += raw[l] * cells[l];
        max_raw = std::max(max_raw, raw[l]);
      }
    }
    if (divisor == 0.0) break;  // every layer dense: only at sparsity 0
    epsilon = kept / divisor;
    if (epsilon * max_raw <= 1.0) break;
    for (size_t l = 0; l < layers; ++l)
      if (!dense[l] && raw[l] == max_raw) dense[l] = true;
  }
  std::vector<double> result(layers);
  for (size_t l = 0; l < layers; ++l) {
    result[l] = dense[l] ? 0.0 : 1.0 - epsilon * raw[l];
    // Rounding can leave a density of 1 ± 1e-16 (at sparsity 0): a layer that gets every connection
    // is dense, sparsity 0.
    if (std::round((1.0 - result[l]) * cells[l]) >= cells[l]) result[l] = 0.0;
    WISP_CHECK(std::round((1.0 - result[l]) * cells[l]) >= 1.0, op, ": the overall sparsity ", sparsity,
               " leaves layer ", l, " [", shapes[l][0], ", ", shapes[l][1],
               "] no connection once the dense layers are paid for");
  }
  return result;
}

}  // namespace wisp::nn
