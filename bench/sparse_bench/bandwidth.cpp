#include "bandwidth.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <vector>

#include "timing.h"
#include "wisp/kernels/sparse_linear.h"  // kernels::feature_major_stride
#if WISP_WITH_CUDA
#include "wisp/core/cuda/runtime.h"  // cuda_runtime::EventTimer
#include "wisp/core/factories.h"
#include "wisp/core/tensor.h"
#endif

namespace wisp::sparse_bench {

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
    best_ms = std::min(best_ms, milliseconds_since(start));
  }
  if (b[n / 2] != 1.0f) std::cerr << "sparse_bench: copy check failed\n";
  return 2.0 * static_cast<double>(n * sizeof(float)) / (best_ms * 1e-3) / 1e9;
}

// The sums go through 4 independent 16-float vectors, so that the reads, not the additions, bound it.
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
    best_ms = std::min(best_ms, milliseconds_since(start));
  }
  if (!(checksum >= 0)) std::cerr << "sparse_bench: read check failed\n";
  return static_cast<double>(total_iterations * kStep * sizeof(float)) / (best_ms * 1e-3) / 1e9;
}

#if WISP_WITH_CUDA
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
#endif

size_t add_batch1_bound_rows(Results& results, const nn::SparseLinear& sparse, double bandwidth) {
  const size_t n = static_cast<size_t>(sparse.in_features());
  const size_t nnz = static_cast<size_t>(sparse.structure().nnz());
  const size_t vectors = 3 * n * sizeof(float);  // x read, y written (read for ownership first)
  const size_t bytes = sparse.weights().nbytes() + sparse.structure().column_indices.nbytes() +
                       sparse.structure().row_pointers.nbytes() + vectors;
  // The fp32 format with 32-bit indices: 8 bytes per connection. The fixed reference the smaller
  // formats are measured against (a 16-bit format's own bound is lower).
  const size_t fp32_format_bytes =
      nnz * (sizeof(float) + sizeof(int32_t)) + (static_cast<size_t>(sparse.out_features()) + 1) * 4 + vectors;
  results.add("copy_bandwidth", 0, bandwidth, "GB/s");
  results.add("batch1_forward_bytes", 1, static_cast<double>(bytes), "bytes");
  results.add("batch1_forward_bound", 1, static_cast<double>(bytes) / (bandwidth * 1e9) * 1e3, "ms");
  results.add("batch1_forward_bytes_fp32_format", 1, static_cast<double>(fp32_format_bytes), "bytes");
  results.add("batch1_forward_bound_fp32_format", 1, static_cast<double>(fp32_format_bytes) / (bandwidth * 1e9) * 1e3,
              "ms");
  return bytes;
}

void add_read_floor_rows(Results& results, const nn::SparseLinear& sparse, int64_t batch) {
  const int64_t stride = kernels::feature_major_stride(batch);
  const double bytes = static_cast<double>(sparse.nnz()) * static_cast<double>(stride) * sizeof(float);
  const double bandwidth = cached_read_gb_per_s(sparse.in_features() * stride, bytes);
  results.add("forward_read_bytes", batch, bytes, "bytes");
  results.add("forward_read_operand", batch, static_cast<double>(sparse.in_features() * stride * sizeof(float)),
              "bytes");
  results.add("cached_read_bandwidth", batch, bandwidth, "GB/s");
  results.add("forward_read_floor", batch, bytes / (bandwidth * 1e9) * 1e3, "ms");
}

}  // namespace wisp::sparse_bench
