// sparse_bench: the notebook's "Time and memory efficiency" section as a program. A SparseLinear
// layer (default 20000 × 20000 at 99% sparsity) against a dense nn::Linear of the same shape:
// forward (no gradient recording) and forward+backward (`layer(x).sum().backward()`, as the
// notebook times it), at each batch size, as the median of --reps runs after a warm-up; the memory
// of each layer; and the bandwidth of a streaming copy with the batch-1 forward's bound (the bytes
// it must read and write over that bandwidth) beside the measured time. For each batch above 1, the
// forward's read floor: every nonzero (o, i) reads input feature i's slice of the batch (batch × 4
// bytes, from the feature-major copy of x), nnz × batch × 4 bytes in all; the floor is the time to
// read that many bytes sequentially from a buffer of the copy's size, which stays in the caches as
// x does (the hardware prefetchers' best case: the forward's reads are in the connectivity's
// order). A kernel that reads each nonzero's slice cannot beat it; only reuse of x's slices across
// nonzeros from closer caches could.
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
// bench/cuda/cusparse.h: cusparseSpMM over the same CSR matrix with each CSR algorithm
// (ALG_DEFAULT, CSR_ALG1, CSR_ALG2, CSR_ALG3), with the activations batch-major (no transposition)
// and feature-major (as our kernel takes them: transposing the input and the output included), and
// at batch 1 cusparseSpMV (ALG_DEFAULT, CSR_ALG1, CSR_ALG2); each cuSPARSE output is compared with
// wisp's and the best is named. A memory bandwidth from a device-to-device copy (timed with events
// too) stands in for the CPU's streaming copy.
//
// --csv prints machine-readable rows (name,batch,value,unit) instead of the table;
// bench/sparse_bench.py runs the same cases in PyTorch and prints both side by side.
// Exit codes: 0 success, 1 a failure while running (or cuSPARSE disagreeing with wisp), 2 bad
// arguments or a device this build or machine does not have.
#include <CLI/CLI.hpp>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <wisp/wisp.h>

#include "command_line.h"
#include "training.h"                    // apps::parse_device, apps::check_device_usable
#include "wisp/core/config.h"            // WISP_WITH_CUDA
#include "wisp/kernels/sparse_linear.h"  // kernels::feature_major_stride
#if WISP_WITH_CUDA
#include <optional>

#include "wisp/core/cuda/runtime.h"  // cuda_runtime::EventTimer
#include "wisp/bench/cuda/cusparse.h"
#endif

using namespace wisp;

namespace {

struct Arguments {
  int64_t size = 20000;
  double sparsity = 0.99;
  std::vector<int64_t> batches{1, 64};
  int reps = 20;
  int dense_reps = 5;
  int threads = 0;
  bool csv = false;
  bool skip_dense = false;
  bool input_grad = false;
  bool initialisation = false;
  uint64_t seed = 0;
  std::string device = "cpu";
};

struct Timing {
  double median_ms = 0, min_ms = 0;
};

// Runs `body` `warmups` times, then `reps` times; the median and the minimum in milliseconds. Each
// timed run starts after `device` finished earlier work. On the CPU it is timed with steady_clock;
// on a GPU with CUDA events on the device's stream (cuda_runtime::EventTimer), from just before the
// run's first launch to the end of its last kernel, without a host synchronisation's overhead.
template <class Body>
Timing time_runs(int reps, Body body, Device device = Device::cpu(), int warmups = 1) {
  for (int i = 0; i < warmups; ++i) body();
  std::vector<double> ms;
#if WISP_WITH_CUDA
  std::optional<cuda_runtime::EventTimer> timer;
  if (device.is_cuda()) timer.emplace(device.index);
#endif
  for (int i = 0; i < reps; ++i) {
    synchronize(device);
#if WISP_WITH_CUDA
    if (timer) {
      timer->start();
      body();
      timer->stop();
      ms.push_back(timer->elapsed_ms());
      continue;
    }
#endif
    const auto start = std::chrono::steady_clock::now();
    body();
    synchronize(device);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front()};
}

// STREAM-style copy b[i] = a[i] over 256 MiB per array with all threads; bytes read + written per
// second (the convention of STREAM's "Copy"), best of several runs.
double copy_bandwidth_gb_per_s() {
  const size_t n = size_t(64) << 20;  // floats per array
  std::vector<float> a(n, 1.0f), b(n, 0.0f);
  double best_ms = 1e30;
  for (int run = 0; run < 10; ++run) {
    const auto start = std::chrono::steady_clock::now();
    float* __restrict destination = b.data();
    const float* __restrict source = a.data();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) destination[i] = source[i];
    best_ms =
        std::min(best_ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  if (b[n / 2] != 1.0f) std::cerr << "sparse_bench: copy check failed\n";
  return 2.0 * static_cast<double>(n * sizeof(float)) / (best_ms * 1e-3) / 1e9;
}

// Bytes per second at which all threads read `bytes` in sequential sweeps over one buffer of
// `buffer_floats` floats (each thread starts at its own offset and wraps), best of 5 runs. The
// sums go through 4 independent 16-float vectors, so that the reads, not the additions, bound it.
double cached_read_gb_per_s(int64_t buffer_floats, double bytes) {
  typedef float Vec __attribute__((vector_size(16 * sizeof(float))));
  constexpr int64_t kStep = 64;  // floats per iteration: 4 vectors
  const int64_t length = std::max<int64_t>(buffer_floats / kStep, 1) * kStep;
  std::vector<Vec> buffer(static_cast<size_t>(length / 16));
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = Vec{} + 1e-3f * static_cast<float>(i % 7);
  const float* data = reinterpret_cast<const float*>(buffer.data());
  const int64_t total_iterations = static_cast<int64_t>(bytes / (kStep * sizeof(float)));
  double best_ms = 1e30, checksum = 0;
  for (int run = 0; run < 5; ++run) {
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel reduction(+ : checksum)
    {
      const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
      const int64_t iterations = total_iterations / threads + (thread < total_iterations % threads ? 1 : 0);
      int64_t position = length / threads * thread / kStep * kStep;
      Vec sums[4] = {};
      for (int64_t i = 0; i < iterations; ++i) {
        for (int v = 0; v < 4; ++v) {
          Vec value;
          std::memcpy(&value, data + position + 16 * v, sizeof value);
          sums[v] += value;
        }
        position += kStep;
        if (position == length) position = 0;
      }
      const Vec total = sums[0] + sums[1] + sums[2] + sums[3];
      for (int lane = 0; lane < 16; ++lane) checksum += total[lane];
    }
    best_ms =
        std::min(best_ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  if (!(checksum >= 0)) std::cerr << "sparse_bench: read check failed\n";
  return static_cast<double>(total_iterations * kStep * sizeof(float)) / (best_ms * 1e-3) / 1e9;
}

double megabytes(size_t bytes) { return static_cast<double>(bytes) / 1e6; }

// "<copy> bandwidth B GB/s; batch-1 forward bound T ms (M MB / B GB/s), measured t ms = r x the bound",
// milliseconds with `digits` decimals; the measured part only when there is a measurement.
void print_bandwidth_bound(const char* copy, double bandwidth, double bound_ms, size_t bytes, double measured_ms,
                           int digits) {
  char line[256];
  std::snprintf(line, sizeof line, "%s bandwidth %.1f GB/s; batch-1 forward bound %.*f ms (%.1f MB / %.1f GB/s)", copy,
                bandwidth, digits, bound_ms, megabytes(bytes), bandwidth);
  std::cout << line;
  if (measured_ms > 0) {
    std::snprintf(line, sizeof line, ", measured %.*f ms = %.2fx the bound", digits, measured_ms,
                  measured_ms / bound_ms);
    std::cout << line;
  }
  std::cout << "\n";
}

struct Row {
  std::string name;
  int64_t batch;
  double value;
  std::string unit;
};

// The rows both runs (CPU and GPU) report about the n x n layer: its construction time, nnz, and its
// memory beside the dense equivalent's.
void add_layer_rows(std::vector<Row>& rows, const nn::SparseLinear& sparse, double init_ms) {
  const int64_t n = sparse.in_features();
  rows.push_back({"sparse_init", 0, init_ms, "ms"});
  rows.push_back({"nnz", 0, static_cast<double>(sparse.nnz()), "count"});
  rows.push_back({"sparse_memory", 0, static_cast<double>(sparse.memory_bytes()), "bytes"});
  rows.push_back({"dense_memory", 0, static_cast<double>((n * n + n) * sizeof(float)), "bytes"});
}

// The copy bandwidth and the batch-1 forward's bound under it: batch 1 reads every value, column
// index and row pointer once, the bias, and x, and writes y. Returns those bytes.
size_t add_batch1_bound_rows(std::vector<Row>& rows, const nn::SparseLinear& sparse, double bandwidth) {
  const size_t n = static_cast<size_t>(sparse.in_features());
  const size_t bytes = sparse.weights().nbytes() + sparse.structure().column_indices.nbytes() +
                       sparse.structure().row_pointers.nbytes() + 3 * n * sizeof(float);
  rows.push_back({"copy_bandwidth", 0, bandwidth, "GB/s"});
  rows.push_back({"batch1_forward_bytes", 1, static_cast<double>(bytes), "bytes"});
  rows.push_back({"batch1_forward_bound", 1, static_cast<double>(bytes) / (bandwidth * 1e9) * 1e3, "ms"});
  return bytes;
}

// The batch's forward read floor (see the top of this file): the bytes every nonzero reads from the
// feature-major copy of x, and the time to read them sequentially from a buffer of that copy's size.
void add_read_floor_rows(std::vector<Row>& rows, const nn::SparseLinear& sparse, int64_t batch) {
  const int64_t stride = kernels::feature_major_stride(batch);
  const double bytes = static_cast<double>(sparse.nnz()) * static_cast<double>(stride) * sizeof(float);
  const double bandwidth = cached_read_gb_per_s(sparse.in_features() * stride, bytes);
  rows.push_back({"forward_read_bytes", batch, bytes, "bytes"});
  rows.push_back(
      {"forward_read_operand", batch, static_cast<double>(sparse.in_features() * stride * sizeof(float)), "bytes"});
  rows.push_back({"cached_read_bandwidth", batch, bandwidth, "GB/s"});
  rows.push_back({"forward_read_floor", batch, bytes / (bandwidth * 1e9) * 1e3, "ms"});
}

// --init: the time to build whole layers (connectivity, CSR/CSC structure, initial values) at the
// sizes issue #4 sets targets for, best of 3.
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
      best_ms = std::min(best_ms,
                         std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      nnz = layer.nnz();
    }
    std::snprintf(line, sizeof line, "%-12s %6lld -> %-6lld at %.3f: nnz %10lld  %9.1f ms  (target < %.0f s)\n", c.name,
                  static_cast<long long>(c.in), static_cast<long long>(c.out), c.sparsity, static_cast<long long>(nnz),
                  best_ms, c.target_seconds);
    std::cout << line;
  }
  return 0;
}

int run(const Arguments& arguments) {
  if (arguments.initialisation) return run_initialisation(arguments);
  if (arguments.threads > 0) set_num_threads(arguments.threads);
  manual_seed(arguments.seed);
  const int64_t n = arguments.size;
  std::vector<Row> rows;
  const auto add = [&](const std::string& name, int64_t batch, double value, const std::string& unit) {
    rows.push_back({name, batch, value, unit});
  };

  const auto init_start = std::chrono::steady_clock::now();
  nn::SparseLinear sparse(n, n, nn::SparseLinearOptions().sparsity(arguments.sparsity));
  const double init_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - init_start).count();
  add_layer_rows(rows, sparse, init_ms);
  add("threads", 0, get_num_threads(), "count");
  const double bandwidth = copy_bandwidth_gb_per_s();
  const size_t batch1_bytes = add_batch1_bound_rows(rows, sparse, bandwidth);

  for (int64_t batch : arguments.batches) {
    Tensor x = batch == 1 ? rand({n}) : rand({batch, n});
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
    if (batch > 1) add_read_floor_rows(rows, sparse, batch);
    Timing t = time_runs(arguments.reps, [&] { forward(sparse); });
    add("wisp_sparse_forward", batch, t.median_ms, "ms");
    add("wisp_sparse_forward_min", batch, t.min_ms, "ms");
    t = time_runs(arguments.reps, [&] { train(sparse); });
    add("wisp_sparse_train", batch, t.median_ms, "ms");
    add("wisp_sparse_train_min", batch, t.min_ms, "ms");
  }
  if (!arguments.skip_dense) {
    nn::Linear dense(n, n);
    for (int64_t batch : arguments.batches) {
      Tensor x = batch == 1 ? rand({n}) : rand({batch, n});
      if (arguments.input_grad) x.set_requires_grad(true);
      Timing t = time_runs(arguments.dense_reps, [&] {
        NoGradGuard no_grad;
        Tensor y = dense(x);
      });
      add("wisp_dense_forward", batch, t.median_ms, "ms");
      t = time_runs(arguments.dense_reps, [&] {
        dense.zero_grad();
        x.set_grad(Tensor());
        dense(x).sum().backward();
      });
      add("wisp_dense_train", batch, t.median_ms, "ms");
    }
  }

  if (arguments.csv) {
    std::cout << "name,batch,value,unit\n";
    for (const Row& row : rows)
      std::cout << row.name << "," << row.batch << "," << row.value << "," << row.unit << "\n";
    return 0;
  }

  const auto find = [&](const std::string& name, int64_t batch) {
    for (const Row& row : rows)
      if (row.name == name && row.batch == batch) return row.value;
    return -1.0;
  };
  char line[256];
  std::cout << "sparse_bench: " << n << " x " << n << " at sparsity " << arguments.sparsity << " (nnz " << sparse.nnz()
            << "), " << get_num_threads() << " threads; initialisation " << init_ms << " ms\n";
  std::snprintf(line, sizeof line, "memory: sparse %.1f MB (parameters + structure), dense %.1f MB (%.0fx)\n",
                megabytes(static_cast<size_t>(find("sparse_memory", 0))),
                megabytes(static_cast<size_t>(find("dense_memory", 0))),
                find("dense_memory", 0) / find("sparse_memory", 0));
  std::cout << line;
  std::cout << "times: median of " << arguments.reps << " runs (sparse) and " << arguments.dense_reps
            << " runs (dense) after a warm-up; the sparse minimum in parentheses\n";
  std::snprintf(line, sizeof line, "%-18s %6s %20s %12s %10s\n", "case", "batch", "sparse ms", "dense ms",
                "dense/sparse");
  std::cout << line;
  for (int64_t batch : arguments.batches) {
    for (const char* kind : {"forward", "train"}) {
      const double s = find(std::string("wisp_sparse_") + kind, batch);
      const double s_min = find(std::string("wisp_sparse_") + kind + "_min", batch);
      const double d = find(std::string("wisp_dense_") + kind, batch);
      char sparse_text[64];
      std::snprintf(sparse_text, sizeof sparse_text, "%.3f (%.3f)", s, s_min);
      const char* label = kind == std::string("train") ? "forward+backward" : "forward";
      if (d > 0) {
        std::snprintf(line, sizeof line, "%-18s %6lld %20s %12.3f %9.1fx\n", label, static_cast<long long>(batch),
                      sparse_text, d, d / s);
      } else {
        std::snprintf(line, sizeof line, "%-18s %6lld %20s %12s %10s\n", label, static_cast<long long>(batch),
                      sparse_text, "-", "-");
      }
      std::cout << line;
    }
  }
  print_bandwidth_bound("streaming copy", bandwidth, find("batch1_forward_bound", 1), batch1_bytes,
                        find("wisp_sparse_forward", 1), 3);
  for (int64_t batch : arguments.batches) {
    if (batch <= 1) continue;
    const double floor_ms = find("forward_read_floor", batch), measured_ms = find("wisp_sparse_forward", batch);
    std::snprintf(line, sizeof line,
                  "batch-%lld forward reads %.1f MB of x's slices (nnz x %lld x 4 B) from a %.1f MB operand; read "
                  "sequentially from a cached buffer of that size at %.1f GB/s: floor %.3f ms, measured %.3f ms = "
                  "%.2fx the floor\n",
                  static_cast<long long>(batch), find("forward_read_bytes", batch) / 1e6,
                  static_cast<long long>(kernels::feature_major_stride(batch)),
                  find("forward_read_operand", batch) / 1e6, find("cached_read_bandwidth", batch), floor_ms,
                  measured_ms, measured_ms / floor_ms);
    std::cout << line;
  }
  return 0;
}

#if WISP_WITH_CUDA
// The GPU's memory bandwidth as a device-to-device copy of 256 MiB: bytes read + written per
// second, best of 10 runs timed with CUDA events (the GPU counterpart of copy_bandwidth_gb_per_s).
double device_copy_bandwidth_gb_per_s(Device device) {
  const Tensor source = zeros({int64_t(64) << 20}).to(device);
  cuda_runtime::EventTimer timer(device.index);
  double best_ms = 1e30;
  for (int run = 0; run < 10; ++run) {
    synchronize(device);
    timer.start();
    const Tensor copy = copy_to_device(source, device);
    timer.stop();
    best_ms = std::min(best_ms, timer.elapsed_ms());
  }
  return 2.0 * static_cast<double>(source.nbytes()) / (best_ms * 1e-3) / 1e9;
}

// `value` printed with `format` when `measured` is positive (it was measured), "-" otherwise.
std::string number_or_dash(double measured, const char* format, double value) {
  if (measured <= 0) return "-";
  char text[32];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

// max |a - b| over the elements of two tensors with the same number of elements (any device), and
// max |b|, for a tolerance relative to the result's size.
struct Difference {
  double max_abs = 0, reference_max_abs = 0;
};
Difference compare(const Tensor& a, const Tensor& reference) {
  const std::vector<float> values = a.to_vector<float>(), expected = reference.to_vector<float>();
  WISP_CHECK(values.size() == expected.size(), "sparse_bench: expected ", expected.size(), " outputs but got ",
             values.size());
  Difference difference;
  for (size_t i = 0; i < values.size(); ++i) {
    difference.max_abs = std::max(difference.max_abs, std::abs(static_cast<double>(values[i]) - expected[i]));
    difference.reference_max_abs = std::max(difference.reference_max_abs, std::abs(static_cast<double>(expected[i])));
  }
  return difference;
}

// The GPU runs: wisp's SparseLinear, the cuSPARSE forward with each algorithm and layout, and a
// dense nn::Linear (cuBLAS), all on `device`.
int run_cuda(const Arguments& arguments, Device device) {
  namespace cusparse = wisp::bench;
  if (arguments.threads > 0) set_num_threads(arguments.threads);
  manual_seed(arguments.seed);
  const int64_t n = arguments.size;
  // The first runs on a GPU create cuBLAS/cuSPARSE handles and grow the caching allocator.
  constexpr int kWarmups = 3;
  std::vector<Row> rows;
  std::vector<std::string> notes;
  const auto add = [&](const std::string& name, int64_t batch, double value, const std::string& unit) {
    rows.push_back({name, batch, value, unit});
  };

  // Built on the CPU (the same seed gives the same layer as the CPU runs), then moved.
  const auto init_start = std::chrono::steady_clock::now();
  nn::SparseLinear sparse(n, n, nn::SparseLinearOptions().sparsity(arguments.sparsity));
  const double init_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - init_start).count();
  sparse.to(device);
  add_layer_rows(rows, sparse, init_ms);
  const double bandwidth = device_copy_bandwidth_gb_per_s(device);
  const size_t batch1_bytes = add_batch1_bound_rows(rows, sparse, bandwidth);

  struct CusparseCase {
    cusparse::CusparseAlgorithm algorithm;
    cusparse::CusparseLayout layout;
  };
  std::vector<CusparseCase> spmm_cases;
  for (cusparse::CusparseLayout layout : {cusparse::CusparseLayout::BatchMajor, cusparse::CusparseLayout::FeatureMajor})
    for (cusparse::CusparseAlgorithm algorithm :
         {cusparse::CusparseAlgorithm::SpmmDefault, cusparse::CusparseAlgorithm::SpmmCsr1,
          cusparse::CusparseAlgorithm::SpmmCsr2, cusparse::CusparseAlgorithm::SpmmCsr3})
      spmm_cases.push_back({algorithm, layout});
  bool disagreement = false;

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
    add("wisp_sparse_forward", batch, t.median_ms, "ms");
    add("wisp_sparse_forward_min", batch, t.min_ms, "ms");
    t = time_runs(
        arguments.reps, [&] { train(sparse); }, device, kWarmups);
    add("wisp_sparse_train", batch, t.median_ms, "ms");
    add("wisp_sparse_train_min", batch, t.min_ms, "ms");

    // cuSPARSE: each algorithm and layout (SpMV at batch 1), checked against wisp's output.
    Tensor reference;
    {
      NoGradGuard no_grad;
      reference = sparse(x);
    }
    const Tensor x_rows = x.detach().view({batch, n});
    std::vector<CusparseCase> cases = spmm_cases;
    if (batch == 1)
      for (cusparse::CusparseAlgorithm algorithm :
           {cusparse::CusparseAlgorithm::SpmvDefault, cusparse::CusparseAlgorithm::SpmvCsr1,
            cusparse::CusparseAlgorithm::SpmvCsr2})
        cases.push_back({algorithm, cusparse::CusparseLayout::BatchMajor});
    double best_ms = -1;
    for (const CusparseCase& c : cases) {
      const std::string label = "cusparse_" + std::string(cusparse::name(c.algorithm)) +
                                (cusparse::is_spmv(c.algorithm) ? "" : "_" + std::string(cusparse::name(c.layout)));
      try {
        cusparse::CusparseSparseLinearPlan plan(sparse.weights().detach(), sparse.structure(), batch, c.algorithm,
                                                c.layout);
        if (!plan.supported()) {
          notes.push_back(label + " at batch " + std::to_string(batch) + ": not supported (" + plan.why_unsupported() +
                          ")");
          continue;
        }
        const Tensor output = empty({batch, n}, TensorOptions(DType::Float32).device(device));
        const Tensor bias = sparse.bias().defined() ? sparse.bias().detach() : Tensor();
        const auto run_case = [&] {
          if (c.layout == cusparse::CusparseLayout::BatchMajor) {
            plan.run(x_rows, bias, output);
          } else {  // the input's transposition is part of the forward, as in wisp's layer
            const kernels::FeatureMajor input = kernels::to_feature_major(x_rows);
            plan.run(input.data, bias, output);
          }
        };
        run_case();
        const Difference difference = compare(output, reference);
        // Both sum the same products in different orders: float rounding, far below this.
        const double tolerance = 1e-4 * std::max(1.0, difference.reference_max_abs);
        add(label + "_max_difference", batch, difference.max_abs, "abs");
        if (difference.max_abs > tolerance) {
          disagreement = true;
          notes.push_back(label + " at batch " + std::to_string(batch) + ": max |cuSPARSE - wisp| " +
                          std::to_string(difference.max_abs) + ", expected at most " + std::to_string(tolerance));
        }
        t = time_runs(arguments.reps, run_case, device, kWarmups);
        add(label + "_forward", batch, t.median_ms, "ms");
        if (best_ms < 0 || t.median_ms < best_ms) best_ms = t.median_ms;
      } catch (const Error& error) {
        notes.push_back(label + " at batch " + std::to_string(batch) + ": failed: " + error.what());
      }
    }
    if (best_ms >= 0) add("cusparse_best_forward", batch, best_ms, "ms");
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
      add("wisp_dense_forward", batch, t.median_ms, "ms");
      t = time_runs(
          arguments.dense_reps,
          [&] {
            dense.zero_grad();
            x.set_grad(Tensor());
            dense(x).sum().backward();
          },
          device, kWarmups);
      add("wisp_dense_train", batch, t.median_ms, "ms");
    }
  }

  const auto find = [&](const std::string& name, int64_t batch) {
    for (const Row& row : rows)
      if (row.name == name && row.batch == batch) return row.value;
    return -1.0;
  };
  if (arguments.csv) {
    std::cout << "name,batch,value,unit\n";
    for (const Row& row : rows)
      std::cout << row.name << "," << row.batch << "," << row.value << "," << row.unit << "\n";
    for (const std::string& note : notes) std::cerr << "sparse_bench: " << note << "\n";
  } else {
    char line[256];
    std::cout << "sparse_bench: " << n << " x " << n << " at sparsity " << arguments.sparsity << " (nnz "
              << sparse.nnz() << ") on " << device << "; initialisation " << init_ms << " ms (on the CPU)\n";
    std::snprintf(line, sizeof line, "memory: sparse %.1f MB (parameters + structure), dense %.1f MB (%.0fx)\n",
                  megabytes(static_cast<size_t>(find("sparse_memory", 0))),
                  megabytes(static_cast<size_t>(find("dense_memory", 0))),
                  find("dense_memory", 0) / find("sparse_memory", 0));
    std::cout << line;
    std::cout << "times: median of " << arguments.reps << " runs (sparse, cuSPARSE) and " << arguments.dense_reps
              << " runs (dense) after " << kWarmups
              << " warm-ups, each timed with CUDA events on the device's stream from an idle GPU; the wisp minimum in "
                 "parentheses\n";
    std::snprintf(line, sizeof line, "%-18s %6s %20s %14s %12s %10s %14s\n", "case", "batch", "wisp sparse ms",
                  "cuSPARSE ms", "dense ms", "dense/wisp", "cuSPARSE/wisp");
    std::cout << line;
    for (int64_t batch : arguments.batches) {
      for (const char* kind : {"forward", "train"}) {
        const bool is_forward = kind == std::string("forward");
        const double s = find(std::string("wisp_sparse_") + kind, batch);
        const double s_min = find(std::string("wisp_sparse_") + kind + "_min", batch);
        const double d = find(std::string("wisp_dense_") + kind, batch);
        const double c = is_forward ? find("cusparse_best_forward", batch) : -1.0;
        char sparse_text[64];
        std::snprintf(sparse_text, sizeof sparse_text, "%.4f (%.4f)", s, s_min);
        std::snprintf(line, sizeof line, "%-18s %6lld %20s %14s %12s %10s %14s\n",
                      is_forward ? "forward" : "forward+backward", static_cast<long long>(batch), sparse_text,
                      number_or_dash(c, "%.4f", c).c_str(), number_or_dash(d, "%.4f", d).c_str(),
                      number_or_dash(d, "%.1fx", d / s).c_str(), number_or_dash(c, "%.2fx", c / s).c_str());
        std::cout << line;
      }
    }
    std::cout << "cuSPARSE forward by algorithm and activation layout (ms; max |cuSPARSE - wisp| in brackets):\n";
    for (int64_t batch : arguments.batches) {
      double best = -1;
      std::string best_label;
      for (const Row& row : rows) {
        const std::string suffix = "_forward";
        if (row.batch != batch || row.name.rfind("cusparse_", 0) != 0 || row.name == "cusparse_best_forward" ||
            row.name.size() < suffix.size() ||
            row.name.compare(row.name.size() - suffix.size(), suffix.size(), suffix) != 0)
          continue;
        const std::string label = row.name.substr(9, row.name.size() - 9 - suffix.size());
        std::snprintf(line, sizeof line, "  batch %-5lld %-36s %10.4f  [%.2g]\n", static_cast<long long>(batch),
                      label.c_str(), row.value, find("cusparse_" + label + "_max_difference", batch));
        std::cout << line;
        if (best < 0 || row.value < best) {
          best = row.value;
          best_label = label;
        }
      }
      if (best >= 0)
        std::cout << "  batch " << batch << " best: " << best_label << " " << best << " ms (wisp "
                  << find("wisp_sparse_forward", batch) << " ms)\n";
    }
    print_bandwidth_bound("device copy", bandwidth, find("batch1_forward_bound", 1), batch1_bytes,
                          find("wisp_sparse_forward", 1), 4);
    for (const std::string& note : notes) std::cout << "note: " << note << "\n";
  }
  if (disagreement) {
    std::cerr << "sparse_bench: cuSPARSE and wisp's forward disagree (see the notes above)\n";
    return 1;
  }
  return 0;
}
#endif  // WISP_WITH_CUDA

}  // namespace

int main(int argc, char** argv) {
  Arguments arguments;
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
#if WISP_WITH_CUDA
    if (device.is_cuda()) return run_cuda(arguments, device);
#endif
    return run(arguments);
  } catch (const std::exception& error) {
    std::cerr << "sparse_bench: " << error.what() << "\n";
    return 1;
  }
}
