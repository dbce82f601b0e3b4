// The main of the [cuda] test executable (tests/cuda/test_*.cpp).
//
// Catch2 v2 has no SKIP: without a usable GPU this main prints why and returns 77, which ctest
// reports as "Skipped" (SKIP_RETURN_CODE 77 in tests/CMakeLists.txt). The executable is built only
// with the CUDA backend, so machines with nvcc but no GPU (CI) still compile it. Listing the test
// cases (--list-test-names-only, which catch_discover_tests runs at build time, and the other
// --list-* options and --help) needs no GPU and works everywhere.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <iostream>

#include "wisp/wisp.h"

namespace {
constexpr int kSkipReturnCode = 77;

bool only_lists(const Catch::ConfigData& config) {
  return config.listTests || config.listTestNamesOnly || config.listTags || config.listReporters || config.showHelp ||
         config.libIdentify;
}
}  // namespace

int main(int argc, char** argv) {
  Catch::Session session;
  const int parse_status = session.applyCommandLine(argc, argv);
  if (parse_status != 0) return parse_status;
  // Listing returns the number of test cases (Catch2 v2's convention), GPU or not.
  if (only_lists(session.configData())) return session.run();

  const int gpus = wisp::cuda::device_count();
  if (gpus == 0) {
    std::cout << "SKIPPED: no usable CUDA GPU (wisp::cuda::is_available() is false: no device or no driver); "
                 "the [cuda] tests need one\n";
    return kSkipReturnCode;
  }
  std::cout << "running the [cuda] tests with " << gpus << " GPU(s)\n";
  const int failures = session.run();
  return failures == kSkipReturnCode ? 1 : failures;  // 77 failures must not read as "skipped"
}
