// sparse_bench: the notebook's "Time and memory efficiency" section as a program. A SparseLinear
// layer (default 20000 × 20000 at 99% sparsity) against a dense nn::Linear of the same shape:
// forward (no gradient recording) and forward+backward (`layer(x).sum().backward()`, as the
// notebook times it), at each batch size, as the median of --reps runs after a warm-up; the memory
// of each layer; and the bandwidth of a streaming copy with the batch-1 forward's bound beside the
// measured time, and each larger batch's read floor (bandwidth.h).
//
//   sparse_bench [--size 20000] [--sparsity 0.99] [--batch 1 64] [--reps 20] [--threads N] [--csv]
//   sparse_bench --init      construction times of the initialisation targets' layers instead
//   sparse_bench --device cuda[:N]   the same cases on a GPU, with cuSPARSE beside them
//
// On a GPU (--device cuda) the layers, inputs and gradients live on the device and each run is
// timed with CUDA events recorded on the device's stream just before and after it, starting from
// an idle GPU (a synchronisation before each run, not timed): a run includes the launch latency
// and any host work the GPU waits for, but not the host's wake-up from a synchronisation after the
// last kernel (microseconds, which matter against the batch-1 target of 0.1 ms). Besides wisp's
// SparseLinear and a dense nn::Linear (cuBLAS SGEMM) it times the cuSPARSE forward of
// bench/cuda/cusparse.h with each algorithm and activation layout (cusparse_cases.h); each
// cuSPARSE output is compared with wisp's and the best is named. A memory bandwidth from a
// device-to-device copy (timed with events too) stands in for the CPU's streaming copy.
//
// --csv prints machine-readable rows (name,batch,value,unit) instead of the table;
// bench/sparse_bench.py runs the same cases in PyTorch and prints both side by side.
// Exit codes: 0 success, 1 a failure while running (or cuSPARSE disagreeing with wisp), 2 bad
// arguments or a device this build or machine does not have.
//
// The files: this one reads the command line; cpu_cases.cpp, gpu_cases.cpp (with cusparse_cases.cpp)
// and initialisation.cpp run the modes; bandwidth.cpp measures bandwidths and bounds; results.h
// holds the rows and report.cpp prints them.
#include <CLI/CLI.hpp>

#include <climits>
#include <cstdint>
#include <exception>
#include <iostream>

#include "command_line.h"
#include "sparse_bench.h"
#include "training.h"  // apps::parse_device, apps::check_device_usable
#include "wisp/core/error.h"
#include "wisp/core/threading.h"  // kMaxThreads

using namespace wisp;

int main(int argc, char** argv) {
  sparse_bench::Arguments arguments;
  CLI::App app{"sparse_bench: SparseLinear against a dense Linear (time and memory)"};
  app.add_option("--size", arguments.size, "in_features = out_features")
      ->capture_default_str()
      ->check(apps::whole_number(1, INT64_MAX));
  app.add_option("--sparsity", arguments.sparsity, "fraction of absent connections")
      ->capture_default_str()
      ->check(apps::finite_number(0.0, 0.999999));
  app.add_option("--batch", arguments.batches, "batch sizes (1 means a 1-D input, as the notebook)")
      ->capture_default_str()
      ->check(apps::whole_number(1, INT64_MAX));
  app.add_option("--reps", arguments.reps, "timed runs per sparse case (after one warm-up; three on a GPU)")
      ->capture_default_str()
      ->check(apps::whole_number(1, INT_MAX));
  app.add_option("--dense-reps", arguments.dense_reps, "timed runs per dense case")
      ->capture_default_str()
      ->check(apps::whole_number(1, INT_MAX));
  app.add_option("--threads", arguments.threads, "CPU threads (default: all)")
      ->check(apps::whole_number(0, kMaxThreads));
  app.add_option("--seed", arguments.seed, "seed for the layers and inputs")->check(apps::whole_number(0, UINT64_MAX));
  app.add_flag("--csv", arguments.csv, "print name,batch,value,unit rows instead of the table");
  app.add_flag("--skip-dense", arguments.skip_dense, "time only the sparse layer");
  app.add_flag("--input-grad", arguments.input_grad, "let the input require grad (backward computes grad_input)");
  app.add_option("--device", arguments.device,
                 "cpu, or cuda / cuda:N: time on that GPU, with cuSPARSE's SpMM/SpMV algorithms beside wisp")
      ->capture_default_str();
  app.add_flag(
      "--init", arguments.initialisation,
      "time only layer construction: random 50000^2 at 99.9%, small-world 784->2000 at 90% and 50000^2 at 99.9%");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  Device device;
  try {
    device = apps::parse_device(arguments.device);
    WISP_CHECK(device.is_cpu() || !arguments.initialisation,
               "--init times construction on the CPU; it takes no --device but got ", device);
  } catch (const Error& error) {
    std::cerr << "sparse_bench: " << error.what() << " (see sparse_bench --help)\n";
    return 2;
  }
  try {
    apps::check_device_usable(device);
  } catch (const Error& error) {
    std::cerr << "sparse_bench: " << error.what() << "\n";
    return 2;
  }
  try {
    if (arguments.initialisation) return sparse_bench::run_initialisation(arguments);
#if WISP_WITH_CUDA
    if (device.is_cuda()) return sparse_bench::run_gpu_cases(arguments, device);
#endif
    return sparse_bench::run_cpu_cases(arguments);
  } catch (const std::exception& error) {
    std::cerr << "sparse_bench: " << error.what() << "\n";
    return 1;
  }
}
