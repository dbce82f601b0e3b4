// A job of 2+ ranks that fails in the way its one argument names, for failure_test.sh to check
// that the job ends with a clear error within the timeout instead of hanging:
//   skip-last       rank 1 returns from main before the last all_reduce (rank 0 waits in it)
//   skip-middle     rank 1 skips one all_reduce in the middle and goes on with the next ones
//   stall           rank 1 sleeps far past the timeout before the last all_reduce
//   kill            rank 1 dies of SIGKILL after the first all_reduce
//   debug-mismatch  rank 1 reduces a tensor of another size (run with WISP_DISTRIBUTED_DEBUG=1)
//   exception       rank 1 throws wisp::Error between two all_reduces
// Exits 0 only when every collective completed, which no mode should allow.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "wisp/core/error.h"
#include "wisp/core/factories.h"
#include "wisp/distributed/process_group.h"

namespace {

using namespace wisp;

constexpr int kCollectives = 5;

// Sums a tensor of ones across the ranks and checks the result, so that a run that completes
// shows that the collectives really combined the ranks' data.
void reduce_ones(distributed::ProcessGroup& group, int64_t elements) {
  Tensor tensor = ones(Shape({elements}));
  group.all_reduce(tensor, distributed::ReduceOp::Sum);
  const float* values = tensor.data<float>();
  for (int64_t i = 0; i < elements; ++i)
    WISP_CHECK(values[i] == static_cast<float>(group.size()), "expected every element of the sum to be ", group.size(),
               " but element ", i, " is ", values[i]);
}

int run(const std::string& mode) {
  bool known = false;
  for (const char* name : {"skip-last", "skip-middle", "stall", "kill", "debug-mismatch", "exception"})
    known = known || mode == name;
  WISP_CHECK(known, "expected a mode (skip-last, skip-middle, stall, kill, debug-mismatch, exception) but got '", mode,
             "'");
  distributed::ProcessGroup& group = distributed::default_group();
  WISP_CHECK(group.size() >= 2, "expected at least 2 ranks (run under mpirun -np 2) but got ", group.size());
  const bool failing_rank = group.rank() == 1;
  if (mode == "debug-mismatch")
    WISP_CHECK(group.debug(), "expected debug mode (WISP_DISTRIBUTED_DEBUG=1) for mode debug-mismatch");
  for (int collective = 1; collective <= kCollectives; ++collective) {
    if (failing_rank) {
      if (mode == "skip-last" && collective == kCollectives) return 0;
      if (mode == "skip-middle" && collective == 3) continue;
      if (mode == "stall" && collective == kCollectives)
        std::this_thread::sleep_for(std::chrono::duration<double>(20 * group.timeout()));
      if (mode == "kill" && collective == 2) std::raise(SIGKILL);
      if (mode == "exception" && collective == 2) WISP_FAIL("rank 1 fails between collectives #1 and #2");
    }
    const bool other_size = failing_rank && mode == "debug-mismatch" && collective == 2;
    reduce_ones(group, other_size ? 6 : 4);
  }
  std::printf("rank %d: its %llu collectives completed\n", group.rank(),
              static_cast<unsigned long long>(group.collectives()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s skip-last|skip-middle|stall|kill|debug-mismatch|exception (under mpirun -np 2)\n",
                 argv[0]);
    return 2;
  }
  try {
    return run(argv[1]);
  } catch (const wisp::Error& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
