// The number of CPU threads wisp's kernels use (OpenMP), and how many cores this process may
// actually run on.
#pragma once

#include <optional>
#include <string>

namespace wisp {

// The most threads set_num_threads accepts: OpenMP reserves a stack per thread of a team, and
// libgomp crashed building a team of 100000.
constexpr int kMaxThreads = 1024;

// Sets the thread count (1 to kMaxThreads) for wisp's CPU kernels, for the whole process: every
// thread that runs a kernel afterwards uses it. A count above usable_cores() is lowered to it, with
// a warning on stderr (once per process): more threads than cores make OpenMP workers wait for
// threads that have no core, and gain nothing. Results are reproducible for a fixed thread count.
// Without a call, the count is choose_num_threads()'s: WISP_NUM_THREADS, else OMP_NUM_THREADS, else
// usable_cores() (shared out between the processes of a job on one machine), never above
// usable_cores(); it is chosen when the first kernel runs (or get_num_threads is called).
// Throws wisp::Error when num_threads is outside 1 to kMaxThreads.
void set_num_threads(int num_threads);
// The thread count wisp's CPU kernels use (choosing the default first if nothing chose one yet).
int get_num_threads();

// The cores this process may run on, at least 1: the CPUs of its affinity mask (sched_getaffinity:
// taskset, cpusets), lowered to the CPU quota of its cgroups when one is set (cgroup v2 cpu.max, or
// cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us; a quota of 1.5 CPUs counts as 2 cores), the
// smallest quota of the process's cgroup and its ancestors. Read from the system at each call.
int usable_cores();

// A thread count for CPU kernels, chosen for a user's request.
struct ThreadChoice {
  int threads = 1;          // what to use: 1 to usable_cores()
  std::string source;       // where the request came from: the option's name ("--threads"),
                            // "WISP_NUM_THREADS", "OMP_NUM_THREADS", or "" when nothing was asked
  int requested = 0;        // the count asked for (0 when nothing was asked)
  std::string warning;      // one line when a request was lowered or an environment value ignored; else ""
  int local_processes = 1;  // the job's processes on this machine (the default divides the cores among them)
};

// `requested` (from the command-line option named `option`, default "--threads") when given, else the
// WISP_NUM_THREADS or else the OMP_NUM_THREADS environment variable (the first number of it, as libgomp
// reads "4,2"), else the default below; a request above usable_cores() is lowered to it. An environment
// value that is not a whole number from 1 to kMaxThreads is ignored (with a warning). Throws wisp::Error
// when `requested` is given and is outside 1 to kMaxThreads.
//
// The default is usable_cores() divided by the processes of this job on this machine, as the
// launcher tells them (LOCAL_WORLD_SIZE, torchrun's; else OMPI_COMM_WORLD_LOCAL_SIZE, Open MPI's; else
// MPI_LOCALNRANKS, MPICH's; 1 when none is set), at least 1: processes side by side otherwise each
// start a thread per core, and their threads take turns on the cores. (A launcher that binds each
// process to cores of its own narrows usable_cores() instead; the division then may leave cores
// idle: set WISP_NUM_THREADS.)
ThreadChoice choose_num_threads(std::optional<int> requested = std::nullopt, const std::string& option = "--threads");

namespace detail {
// The CPUs a cgroup v2 cpu.max file allows ("150000 100000": 1.5); std::nullopt for "max ..." (no
// quota) or text that is not a quota.
std::optional<double> cpu_max_quota(const std::string& text);
// The smallest CPU quota over the cgroups that `proc_self_cgroup` (the text of /proc/self/cgroup)
// names, and their ancestors, read under `cgroup_root` (/sys/fs/cgroup): cgroup v2's cpu.max and
// cgroup v1's cpu/cpu.cfs_quota_us over cpu.cfs_period_us. std::nullopt when none sets a quota.
std::optional<double> cgroup_cpu_quota(const std::string& proc_self_cgroup, const std::string& cgroup_root);
// Makes the calling thread's OpenMP thread count the process's (set_num_threads, else the default).
// Called before every CPU kernel (kernels/dispatch.h); cheap after a thread's first call.
void use_num_threads();
}  // namespace detail

}  // namespace wisp
