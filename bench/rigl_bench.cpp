// rigl_bench: what one RigL update (layers/rigl.h) of a SparseLinear layer costs, against the
// training step it interrupts every delta_t steps. Default: the notebook's 20000 × 20000 layer at
// 99% sparsity, batch 64, at the largest drop fraction (alpha = 0.3, the first update).
//
//   rigl_bench [--size 20000] [--sparsity 0.99] [--batch 64] [--alpha 0.3] [--reps 5] [--threads N]
//              [--tile ELEMENTS]
//
// Times (median of --reps after a warm-up):
//   step    one training step of the layer: forward, backward (with the input's gradient, as for a
//           hidden layer) and an SGD step with momentum
//   grow    the tiled top-k over the dense gradient alone (kernels::largest_absent_gradients)
//   update  a whole update: drop, grow, rewiring, values + momentum + gradient permuted, CSR/CSC
//           rebuilt (nn::rigl_update)
// and the peak resident memory before and after the updates (VmHWM): RigL needs O(tile + k) on top.
// Exit codes: 0 success, 1 a failure while running, 2 bad arguments.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <wisp/kernels/rigl.h>
#include <wisp/wisp.h>

using namespace wisp;

namespace {

struct Arguments {
  int64_t size = 20000;
  double sparsity = 0.99;
  int64_t batch = 64;
  double alpha = 0.3;
  int reps = 5;
  int threads = 0;
  int64_t tile_elements = 0;
  uint64_t seed = 0;
};

template <class Body>
double median_ms(int reps, Body body) {
  body();  // warm-up
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    body();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Peak resident set size of this process so far, in MB (Linux: VmHWM in /proc/self/status).
double peak_resident_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

int run(const Arguments& arguments) {
  if (arguments.threads > 0) set_num_threads(arguments.threads);
  manual_seed(arguments.seed);
  const int64_t n = arguments.size;
  nn::SparseLinear layer(n, n, nn::SparseLinearOptions().sparsity(arguments.sparsity));
  optim::SGD optimizer(layer.parameters(), optim::SGDOptions(0.01).momentum(0.9));
  const Tensor x = randn({arguments.batch, n}).set_requires_grad(true);
  const Tensor upstream = randn({arguments.batch, n});
  const int64_t count = static_cast<int64_t>(std::floor(arguments.alpha * static_cast<double>(layer.nnz())));

  const double step_ms = median_ms(arguments.reps, [&] {
    optimizer.zero_grad();
    x.set_grad(Tensor());
    (layer(x) * upstream).sum().backward();
    optimizer.step();
  });
  const double before_mb = peak_resident_mb();

  // The update's inputs as RigL sees them: this batch's input and output gradient.
  const Tensor input = x.detach(), grad_output = upstream;
  const Tensor none_dropped = zeros({layer.nnz()}, DType::UInt8);  // every connection stays
  const double grow_ms = median_ms(arguments.reps, [&] {
    kernels::largest_absent_gradients(grad_output, input, layer.structure(), none_dropped, count, arguments.seed,
                                      arguments.tile_elements);
  });
  const Tensor momentum = optimizer.momentum_buffer(layer.weights());
  const double update_ms = median_ms(arguments.reps, [&] {
    nn::rigl_update(layer.weights(), layer.structure(), grad_output, input, count, {momentum, layer.weights().grad()},
                    arguments.seed, arguments.tile_elements);
  });
  const double after_mb = peak_resident_mb();

  char line[256];
  std::cout << "rigl_bench: " << n << " x " << n << " at sparsity " << arguments.sparsity << " (nnz " << layer.nnz()
            << "), batch " << arguments.batch << ", " << get_num_threads() << " threads; drop/grow " << count
            << " connections (alpha " << arguments.alpha << ")\n";
  std::cout << "times: median of " << arguments.reps << " runs after a warm-up\n";
  std::snprintf(line, sizeof line, "training step (forward, backward, SGD)   %10.1f ms\n", step_ms);
  std::cout << line;
  std::snprintf(line, sizeof line, "grow: tiled top-k of the dense gradient  %10.1f ms\n", grow_ms);
  std::cout << line;
  std::snprintf(line, sizeof line, "RigL update (drop, grow, rewire)         %10.1f ms = %.2f training steps\n",
                update_ms, update_ms / step_ms);
  std::cout << line;
  std::snprintf(line, sizeof line,
                "peak resident memory: %.0f MB after training steps, %.0f MB after the updates (+%.0f MB; dense "
                "gradient would be %.0f MB)\n",
                before_mb, after_mb, after_mb - before_mb, static_cast<double>(n) * static_cast<double>(n) * 4 / 1e6);
  std::cout << line;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Arguments arguments;
  CLI::App app{"rigl_bench: the cost of one RigL update of a SparseLinear layer against a training step"};
  app.add_option("--size", arguments.size, "in_features = out_features")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--sparsity", arguments.sparsity, "fraction of absent connections")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999999));
  app.add_option("--batch", arguments.batch, "batch size")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--alpha", arguments.alpha, "drop fraction of the update (RigL's largest: its initial alpha)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--reps", arguments.reps, "timed runs per case (after one warm-up)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", arguments.threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", arguments.seed, "seed for the layer and the batch");
  app.add_option("--tile", arguments.tile_elements, "dense-gradient tile size in elements (default: the library's)")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  try {
    return run(arguments);
  } catch (const std::exception& error) {
    std::cerr << "rigl_bench: " << error.what() << "\n";
    return 1;
  }
}
