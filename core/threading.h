// The number of CPU threads wisp's kernels use (OpenMP, including Eigen's products), and how many
// cores this process may actually run on.
#pragma once

#include <optional>
#include <string>

namespace wisp {

// The most threads set_num_threads accepts: OpenMP reserves a stack per thread of a team, and
// libgomp crashed building a team of 100000.
constexpr int kMaxThreads = 1024;

// Sets the thread count (1 to kMaxThreads) for CPU kernels started from the calling thread
// (default: OpenMP's, usually one per CPU of the affinity mask). Results are reproducible for a
// fixed thread count. The count is taken as given, even above usable_cores(): benchmarks and tests
// ask for exact counts, and results depend on the count. Programs that pick a count for the user
// should use choose_num_threads.
void set_num_threads(int num_threads);
int get_num_threads();

// The cores this process may run on, at least 1: the CPUs of its affinity mask (sched_getaffinity:
// taskset, cpusets), lowered to the CPU quota of its cgroups when one is set (cgroup v2 cpu.max, or
// cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us; a quota of 1.5 CPUs counts as 2 cores), the
// smallest quota of the process's cgroup and its ancestors. Read from the system at each call.
int usable_cores();

// A thread count for CPU kernels, chosen for a user's request.
struct ThreadChoice {
  int threads = 1;      // what to use: 1 to usable_cores()
  std::string source;   // where the request came from: the option's name ("--threads"),
                        // "WISP_NUM_THREADS", "OMP_NUM_THREADS", or "" when nothing was asked
  int requested = 0;    // the count asked for (0 when nothing was asked)
  std::string warning;  // one line when a request was lowered or an environment value ignored; else ""
};

// `requested` (from the command-line option named `option`, default "--threads") when given, else the WISP_NUM_THREADS
// or else the OMP_NUM_THREADS environment variable (the first number of it, as libgomp reads "4,2"), else
// usable_cores(); a request above usable_cores() is lowered to it. More threads than cores make
// busy-waiting workers (Eigen's parallel products) wait on one another: on one core, mnist_train
// with 2 threads took 7x as long as with 1. An environment value that is not a whole number from 1 to
// kMaxThreads is ignored (with a warning). Throws wisp::Error when `requested` is given and is
// outside 1 to kMaxThreads.
ThreadChoice choose_num_threads(std::optional<int> requested = std::nullopt, const std::string& option = "--threads");

namespace detail {
// The CPUs a cgroup v2 cpu.max file allows ("150000 100000": 1.5); std::nullopt for "max ..." (no
// quota) or text that is not a quota.
std::optional<double> cpu_max_quota(const std::string& text);
// The smallest CPU quota over the cgroups that `proc_self_cgroup` (the text of /proc/self/cgroup)
// names, and their ancestors, read under `cgroup_root` (/sys/fs/cgroup): cgroup v2's cpu.max and
// cgroup v1's cpu/cpu.cfs_quota_us over cpu.cfs_period_us. std::nullopt when none sets a quota.
std::optional<double> cgroup_cpu_quota(const std::string& proc_self_cgroup, const std::string& cgroup_root);
}  // namespace detail

}  // namespace wisp
