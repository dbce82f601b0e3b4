#include "report.h"

#include <cstdio>
#include <iostream>
#include <string>

#include "wisp/kernels/sparse_linear.h"  // kernels::feature_major_stride

namespace wisp::sparse_bench {
namespace {

double megabytes(double bytes) { return bytes / 1e6; }

// "<copy> bandwidth B GB/s; batch-1 forward bound T ms (M MB / B GB/s), measured t ms = r x the bound",
// milliseconds with `digits` decimals; the measured part only when there is a measurement.
void print_bandwidth_bound(const char* copy, const Results& results, int digits) {
  const double bandwidth = results.find("copy_bandwidth", 0), bound_ms = results.find("batch1_forward_bound", 1);
  const double measured_ms = results.find("wisp_sparse_forward", 1);
  char line[256];
  std::snprintf(line, sizeof line, "%s bandwidth %.1f GB/s; batch-1 forward bound %.*f ms (%.1f MB / %.1f GB/s)", copy,
                bandwidth, digits, bound_ms, megabytes(results.find("batch1_forward_bytes", 1)), bandwidth);
  std::cout << line;
  if (measured_ms > 0) {
    std::snprintf(line, sizeof line, ", measured %.*f ms = %.2fx the bound", digits, measured_ms,
                  measured_ms / bound_ms);
    std::cout << line;
  }
  std::cout << "\n";
}

// "memory: sparse S MB (parameters + structure), dense D MB (Rx)".
void print_memory(const Results& results) {
  const double sparse = results.find("sparse_memory", 0), dense = results.find("dense_memory", 0);
  char line[256];
  std::snprintf(line, sizeof line, "memory: sparse %.1f MB (parameters + structure), dense %.1f MB (%.0fx)\n",
                megabytes(sparse), megabytes(dense), dense / sparse);
  std::cout << line;
}

// `value` printed with `format` when `measured` is positive (it was measured), "-" otherwise.
std::string number_or_dash(double measured, const char* format, double value) {
  if (measured <= 0) return "-";
  char text[32];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void print_csv(const Results& results) {
  std::cout << "name,batch,value,unit\n";
  for (const Row& row : results.rows())
    std::cout << row.name << "," << row.batch << "," << row.value << "," << row.unit << "\n";
  for (const std::string& note : results.notes()) std::cerr << "sparse_bench: " << note << "\n";
}

void print_cpu_table(const Arguments& arguments, const Results& results) {
  const int64_t n = arguments.size;
  char line[256];
  std::cout << "sparse_bench: " << n << " x " << n << " at sparsity " << arguments.sparsity << " (nnz "
            << static_cast<long long>(results.find("nnz", 0)) << "), " << static_cast<int>(results.find("threads", 0))
            << " threads; initialisation " << results.find("sparse_init", 0) << " ms\n";
  print_memory(results);
  std::cout << "times: median of " << arguments.reps << " runs (sparse) and " << arguments.dense_reps
            << " runs (dense) after a warm-up; the sparse minimum in parentheses\n";
  std::snprintf(line, sizeof line, "%-18s %6s %20s %12s %10s\n", "case", "batch", "sparse ms", "dense ms",
                "dense/sparse");
  std::cout << line;
  for (int64_t batch : arguments.batches) {
    for (const char* kind : {"forward", "train"}) {
      const double s = results.find(std::string("wisp_sparse_") + kind, batch);
      const double s_min = results.find(std::string("wisp_sparse_") + kind + "_min", batch);
      const double d = results.find(std::string("wisp_dense_") + kind, batch);
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
  for (int64_t batch : arguments.batches) {
    std::snprintf(line, sizeof line,
                  "bf16 mode (compute_dtype bfloat16), batch %lld: forward %.3f ms, "
                  "forward+backward %.3f ms\n",
                  static_cast<long long>(batch), results.find("wisp_bf16_forward", batch),
                  results.find("wisp_bf16_train", batch));
    std::cout << line;
  }
  print_bandwidth_bound("streaming copy", results, 3);
  const double fp32_bound_ms = results.find("batch1_forward_bound_fp32_format", 1);
  std::snprintf(line, sizeof line, "the fp32 format's batch-1 bound (4 B value + 4 B column per connection): %.3f ms\n",
                fp32_bound_ms);
  std::cout << line;
  std::cout << "formats, kernel-level forward (median, minimum in parentheses), the same connections:\n";
  std::snprintf(line, sizeof line, "%-26s %6s %8s %20s %16s\n", "format", "batch", "B/conn", "forward ms",
                "/ fp32 bound");
  std::cout << line;
  for (int64_t batch : arguments.batches) {
    for (const auto& [key, label] : {std::pair<const char*, const char*>{"format32", "fp32, 32-bit columns"},
                                     {"format_layer", "fp32, 16-bit columns"},
                                     {"format_bfloat16", "bf16, 16-bit columns"},
                                     {"format_bfloat16_input", "bf16 + bf16 input"}}) {
      const double ms = results.find(std::string(key) + "_forward", batch);
      if (ms <= 0) continue;
      char time_text[64];
      std::snprintf(time_text, sizeof time_text, "%.3f (%.3f)", ms,
                    results.find(std::string(key) + "_forward_min", batch));
      const std::string ratio = batch == 1 ? number_or_dash(ms, "%.2fx", ms / fp32_bound_ms) : "-";
      std::snprintf(line, sizeof line, "%-26s %6lld %8.0f %20s %16s\n", label, static_cast<long long>(batch),
                    results.find(std::string(key) + "_bytes_per_connection", batch), time_text, ratio.c_str());
      std::cout << line;
    }
  }
  for (int64_t batch : arguments.batches) {
    if (batch <= 1) continue;
    const double floor_ms = results.find("forward_read_floor", batch);
    const double measured_ms = results.find("wisp_sparse_forward", batch);
    std::snprintf(line, sizeof line,
                  "batch-%lld forward reads %.1f MB of x's slices (nnz x %lld x 4 B) from a %.1f MB operand; read "
                  "sequentially from a cached buffer of that size at %.1f GB/s: floor %.3f ms, measured %.3f ms = "
                  "%.2fx the floor\n",
                  static_cast<long long>(batch), results.find("forward_read_bytes", batch) / 1e6,
                  static_cast<long long>(kernels::feature_major_stride(batch)),
                  results.find("forward_read_operand", batch) / 1e6, results.find("cached_read_bandwidth", batch),
                  floor_ms, measured_ms, measured_ms / floor_ms);
    std::cout << line;
  }
}

void print_gpu_table(const Arguments& arguments, Device device, int warmups, const Results& results) {
  const int64_t n = arguments.size;
  char line[256];
  std::cout << "sparse_bench: " << n << " x " << n << " at sparsity " << arguments.sparsity << " (nnz "
            << static_cast<long long>(results.find("nnz", 0)) << ") on " << device << "; initialisation "
            << results.find("sparse_init", 0) << " ms (on the CPU)\n";
  print_memory(results);
  std::cout << "times: median of " << arguments.reps << " runs (sparse, cuSPARSE) and " << arguments.dense_reps
            << " runs (dense) after " << warmups
            << " warm-ups, each timed with CUDA events on the device's stream from an idle GPU; the wisp minimum in "
               "parentheses\n";
  std::snprintf(line, sizeof line, "%-18s %6s %20s %14s %12s %10s %14s\n", "case", "batch", "wisp sparse ms",
                "cuSPARSE ms", "dense ms", "dense/wisp", "cuSPARSE/wisp");
  std::cout << line;
  for (int64_t batch : arguments.batches) {
    for (const char* kind : {"forward", "train"}) {
      const bool is_forward = kind == std::string("forward");
      const double s = results.find(std::string("wisp_sparse_") + kind, batch);
      const double s_min = results.find(std::string("wisp_sparse_") + kind + "_min", batch);
      const double d = results.find(std::string("wisp_dense_") + kind, batch);
      const double c = is_forward ? results.find("cusparse_best_forward", batch) : -1.0;
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
  const std::string prefix = "cusparse_", suffix = "_forward";
  for (int64_t batch : arguments.batches) {
    double best = -1;
    std::string best_label;
    for (const Row& row : results.rows()) {
      if (row.batch != batch || row.name.rfind(prefix, 0) != 0 || row.name == "cusparse_best_forward" ||
          !ends_with(row.name, suffix))
        continue;
      const std::string label = row.name.substr(prefix.size(), row.name.size() - prefix.size() - suffix.size());
      std::snprintf(line, sizeof line, "  batch %-5lld %-36s %10.4f  [%.2g]\n", static_cast<long long>(batch),
                    label.c_str(), row.value, results.find(prefix + label + "_max_difference", batch));
      std::cout << line;
      if (best < 0 || row.value < best) {
        best = row.value;
        best_label = label;
      }
    }
    if (best >= 0)
      std::cout << "  batch " << batch << " best: " << best_label << " " << best << " ms (wisp "
                << results.find("wisp_sparse_forward", batch) << " ms)\n";
  }
  print_bandwidth_bound("device copy", results, 4);
  for (const std::string& note : results.notes()) std::cout << "note: " << note << "\n";
}

}  // namespace wisp::sparse_bench
