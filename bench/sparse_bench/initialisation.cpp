// --init: the time to build whole layers (connectivity, CSR/CSC structure, initial values) at the
// sizes issue #4 sets targets for, best of 3. bench/connectivity_bench times the connectivity
// builders alone.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "sparse_bench.h"
#include "timing.h"
#include "wisp/wisp.h"

namespace wisp::sparse_bench {

int run_initialisation(const Arguments& arguments) {
  if (arguments.threads > 0) set_num_threads(arguments.threads);
  manual_seed(arguments.seed);
  struct Case {
    const char* name;
    int64_t in, out;
    double sparsity;
    bool small_world;
    double target_seconds;
  };
  const Case cases[] = {{"random", 50000, 50000, 0.999, false, 1.0},
                        {"small-world", 784, 2000, 0.9, true, 1.0},
                        {"small-world", 50000, 50000, 0.999, true, 10.0}};
  std::cout << "sparse_bench --init: SparseLinear construction, best of 3, " << get_num_threads() << " threads\n";
  char line[256];
  for (const Case& c : cases) {
    double best_ms = 1e30;
    int64_t nnz = 0;
    for (int run = 0; run < 3; ++run) {
      const auto start = std::chrono::steady_clock::now();
      nn::SparseLinear layer(c.in, c.out, nn::SparseLinearOptions().sparsity(c.sparsity).small_world(c.small_world));
      best_ms = std::min(best_ms, milliseconds_since(start));
      nnz = layer.nnz();
    }
    std::snprintf(line, sizeof line, "%-12s %6lld -> %-6lld at %.3f: nnz %10lld  %9.1f ms  (target < %.0f s)\n", c.name,
                  static_cast<long long>(c.in), static_cast<long long>(c.out), c.sparsity, static_cast<long long>(nnz),
                  best_ms, c.target_seconds);
    std::cout << line;
  }
  return 0;
}

}  // namespace wisp::sparse_bench
