// sparse_bench's settings and its modes, one file each: the CPU cases (cpu_cases.cpp), the GPU
// cases with cuSPARSE beside wisp (gpu_cases.cpp, cusparse_cases.cpp) and --init's construction
// times (initialisation.cpp). main.cpp reads the command line and runs one of them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wisp/core/config.h"  // WISP_WITH_CUDA
#include "wisp/core/device.h"

namespace wisp::sparse_bench {

// The command line's values (main.cpp documents each option).
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

// Each prints its results and returns the exit code (see main.cpp); failures throw.
int run_cpu_cases(const Arguments& arguments);
int run_initialisation(const Arguments& arguments);
#if WISP_WITH_CUDA
int run_gpu_cases(const Arguments& arguments, Device device);
#endif

}  // namespace wisp::sparse_bench
