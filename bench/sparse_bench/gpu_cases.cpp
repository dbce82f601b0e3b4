// The GPU run (--device cuda): the layers, inputs and gradients live on the device. wisp's
// SparseLinear (forward, forward+backward), cuSPARSE's forward with each algorithm and layout
// beside it (cusparse_cases.h), and a dense nn::Linear (cuBLAS SGEMM), each timed with CUDA events
// (timing.h); the device copy's bandwidth stands in for the CPU's streaming copy.
#include <chrono>
#include <iostream>

#include "bandwidth.h"
#include "cusparse_cases.h"
#include "report.h"
#include "results.h"
#include "sparse_bench.h"
#include "timing.h"
#include "wisp/wisp.h"

namespace wisp::sparse_bench {

int run_gpu_cases(const Arguments& arguments, Device device) {
  if (arguments.threads > 0) set_num_threads(arguments.threads);
  manual_seed(arguments.seed);
  const int64_t n = arguments.size;
  // The first runs on a GPU create cuBLAS/cuSPARSE handles and grow the caching allocator.
  constexpr int kWarmups = 3;
  Results results;

  // Built on the CPU (the same seed gives the same layer as the CPU runs), then moved.
  const auto init_start = std::chrono::steady_clock::now();
  nn::SparseLinear sparse(n, n, nn::SparseLinearOptions().sparsity(arguments.sparsity));
  const double init_ms = milliseconds_since(init_start);
  sparse.to(device);
  add_layer_rows(results, sparse, init_ms);
  add_batch1_bound_rows(results, sparse, device_copy_bandwidth_gb_per_s(device));

  bool agreed = true;
  for (int64_t batch : arguments.batches) {
    Tensor x = (batch == 1 ? rand({n}) : rand({batch, n})).to(device);
    if (arguments.input_grad) x.set_requires_grad(true);
    const auto forward = [&](nn::Module& layer) {
      NoGradGuard no_grad;
      Tensor y = layer(x);
    };
    const auto train = [&](nn::Module& layer) {
      layer.zero_grad();
      x.set_grad(Tensor());
      layer(x).sum().backward();
    };
    Timing t = time_runs(
        arguments.reps, [&] { forward(sparse); }, device, kWarmups);
    results.add("wisp_sparse_forward", batch, t.median_ms, "ms");
    results.add("wisp_sparse_forward_min", batch, t.min_ms, "ms");
    t = time_runs(
        arguments.reps, [&] { train(sparse); }, device, kWarmups);
    results.add("wisp_sparse_train", batch, t.median_ms, "ms");
    results.add("wisp_sparse_train_min", batch, t.min_ms, "ms");
    agreed = add_cusparse_rows(results, sparse, x, batch, arguments.reps, kWarmups) && agreed;
  }
  if (!arguments.skip_dense) {
    nn::Linear dense(n, n);
    dense.to(device);
    for (int64_t batch : arguments.batches) {
      Tensor x = (batch == 1 ? rand({n}) : rand({batch, n})).to(device);
      if (arguments.input_grad) x.set_requires_grad(true);
      Timing t = time_runs(
          arguments.dense_reps,
          [&] {
            NoGradGuard no_grad;
            Tensor y = dense(x);
          },
          device, kWarmups);
      results.add("wisp_dense_forward", batch, t.median_ms, "ms");
      t = time_runs(
          arguments.dense_reps,
          [&] {
            dense.zero_grad();
            x.set_grad(Tensor());
            dense(x).sum().backward();
          },
          device, kWarmups);
      results.add("wisp_dense_train", batch, t.median_ms, "ms");
    }
  }

  if (arguments.csv) print_csv(results);
  else print_gpu_table(arguments, device, kWarmups, results);
  if (!agreed) {
    std::cerr << "sparse_bench: cuSPARSE and wisp's forward disagree (see the notes above)\n";
    return 1;
  }
  return 0;
}

}  // namespace wisp::sparse_bench
