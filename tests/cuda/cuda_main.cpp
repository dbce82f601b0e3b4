// The main of the [cuda] test executables (tests/cuda/test_*.cpp).
//
// Catch2 v2 has no SKIP: without a usable GPU this main prints why and returns 77, which ctest
// reports as "Skipped" (SKIP_RETURN_CODE 77 in tests/CMakeLists.txt). These executables are built
// only with the CUDA backend, so machines with nvcc but no GPU (CI) still compile them.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <iostream>

#include <wisp/wisp.h>

namespace {
constexpr int kSkipReturnCode = 77;
}

int main(int argc, char** argv) {
  const int gpus = wisp::cuda::device_count();
  if (gpus == 0) {
    std::cout << "SKIPPED: no usable CUDA GPU (wisp::cuda::is_available() is false: no device or no driver); "
                 "the [cuda] tests need one\n";
    return kSkipReturnCode;
  }
  std::cout << "running the [cuda] tests with " << gpus << " GPU(s)\n";
  const int failures = Catch::Session().run(argc, argv);
  return failures == kSkipReturnCode ? 1 : failures;  // 77 failures must not read as "skipped"
}
