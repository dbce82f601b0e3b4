#include "results.h"

namespace wisp::sparse_bench {

double Results::find(const std::string& name, int64_t batch) const {
  for (const Row& row : rows_)
    if (row.name == name && row.batch == batch) return row.value;
  return -1.0;
}

void add_layer_rows(Results& results, const nn::SparseLinear& sparse, double init_ms) {
  const int64_t n = sparse.in_features();
  results.add("sparse_init", 0, init_ms, "ms");
  results.add("nnz", 0, static_cast<double>(sparse.nnz()), "count");
  results.add("sparse_memory", 0, static_cast<double>(sparse.memory_bytes()), "bytes");
  results.add("dense_memory", 0, static_cast<double>((n * n + n) * sizeof(float)), "bytes");
}

}  // namespace wisp::sparse_bench
