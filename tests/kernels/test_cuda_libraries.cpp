// cuBLAS is opened on first use (kernels/cuda/libraries.cu): a process that only computes on the
// CPU never loads it, and the first call into it loads it and reaches the library's own function.
// wisp never loads cuSPARSE (only the benchmark's bench/cuda library links it). Built only with the
// CUDA backend (tests/CMakeLists.txt); needs no GPU.
#include <cublas_v2.h>

#include <fstream>
#include <string>

#include "test_helpers.h"

using namespace wisp;

namespace {
// Whether a file whose name contains `name` is mapped into this process.
bool is_mapped(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  REQUIRE(maps.good());
  std::string line;
  while (std::getline(maps, line))
    if (line.find(name) != std::string::npos) return true;
  return false;
}
}  // namespace

TEST_CASE("cuBLAS is loaded only when first called, cuSPARSE never", "[kernels][cuda_libraries]") {
  // CPU work of every kind that has a GPU twin: dense and sparse products, their backward.
  manual_seed(3);
  nn::Linear dense(20, 10);
  nn::SparseLinear sparse(10, 5, nn::SparseLinearOptions().sparsity(0.5));
  const Tensor x = randn({4, 20}).set_requires_grad(true);
  sparse(dense(x)).sum().backward();
  REQUIRE(x.grad().defined());
  CHECK_FALSE(is_mapped("libcublas"));
  CHECK_FALSE(is_mapped("libcusparse"));

  // The library's own functions answer through the forwarding definitions (no GPU needed).
  CHECK(std::string(cublasGetStatusName(CUBLAS_STATUS_NOT_INITIALIZED)) == "CUBLAS_STATUS_NOT_INITIALIZED");
  CHECK(std::string(cublasGetStatusString(CUBLAS_STATUS_SUCCESS)).size() > 0);
  CHECK(is_mapped("libcublas"));
  CHECK_FALSE(is_mapped("libcusparse"));
}
