// kernels/cpu/kernel_choice.h: the measured choice runs every variant once per key, leaves the
// winner's result in the outputs, and then runs only the winner.
#include <chrono>
#include <thread>

#include "test_helpers.h"
#include "wisp/kernels/cpu/kernel_choice.h"

using namespace wisp::kernels::cpu;

TEST_CASE("kernel_choice: the faster variant wins, is remembered and leaves its result") {
  forget_kernel_choices();
  int slow_runs = 0, fast_runs = 0, output = -1;
  const std::vector<KernelVariant> variants = {
      {"slow",
       [&] {
         ++slow_runs;
         std::this_thread::sleep_for(std::chrono::milliseconds(20));
         output = 1;
       }},
      {"fast",
       [&] {
         ++fast_runs;
         output = 2;
       }},
  };
  CHECK(run_fastest("test key", variants) == 1);
  CHECK(output == 2);
  CHECK(slow_runs == 3);
  CHECK(fast_runs >= 3);
  const int fast_after_measuring = fast_runs;

  CHECK(run_fastest("test key", variants) == 1);
  CHECK(slow_runs == 3);  // not measured again
  CHECK(fast_runs == fast_after_measuring + 1);

  const std::vector<std::string> report = kernel_choices();
  REQUIRE(report.size() == 1);
  CHECK(report[0].find("test key: fast") == 0);

  forget_kernel_choices();
  CHECK(kernel_choices().empty());
}

TEST_CASE("kernel_choice: the last variant measured is rerun when it lost") {
  forget_kernel_choices();
  int output = -1;
  const std::vector<KernelVariant> variants = {
      {"fast", [&] { output = 1; }},
      {"slow",
       [&] {
         std::this_thread::sleep_for(std::chrono::milliseconds(20));
         output = 2;
       }},
  };
  CHECK(run_fastest("rerun key", variants) == 0);
  CHECK(output == 1);
  forget_kernel_choices();
}

TEST_CASE("kernel_choice: one variant runs without measuring; none is an error") {
  forget_kernel_choices();
  int runs = 0;
  CHECK(run_fastest("single", {{"only", [&] { ++runs; }}}) == 0);
  CHECK(runs == 1);
  CHECK(kernel_choices().empty());
  CHECK_THROWS_WITH(run_fastest("empty", {}), Catch::Contains("expected at least one variant"));
}

TEST_CASE("kernel_choice: a variant may itself choose among kernels", "[kernels]") {
  forget_kernel_choices();
  int inner_runs = 0;
  const auto inner = [&] { run_fastest("nested inner", {{"a", [&] { ++inner_runs; }}, {"b", [&] { ++inner_runs; }}}); };
  for (int call = 0; call < 3; ++call) run_fastest("nested outer", {{"x", inner}, {"y", inner}});
  CHECK(kernel_choices().size() == 2);
  CHECK(inner_runs > 3);
  forget_kernel_choices();
}
