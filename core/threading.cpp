#include "wisp/core/threading.h"

#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <vector>

#include "wisp/core/error.h"

namespace wisp {
namespace {

// The CPUs of the calling thread's affinity mask; 0 when the system does not say.
int affinity_cpus() {
  // The mask may hold more CPUs than a cpu_set_t: grow it until the kernel accepts its size.
  for (int cpus = 1024; cpus <= (1 << 20); cpus *= 2) {
    cpu_set_t* set = CPU_ALLOC(cpus);
    if (set == nullptr) return 0;
    const size_t bytes = CPU_ALLOC_SIZE(cpus);
    CPU_ZERO_S(bytes, set);
    const int status = sched_getaffinity(0, bytes, set);
    const int count = status == 0 ? CPU_COUNT_S(bytes, set) : 0;
    const int error = errno;
    CPU_FREE(set);
    if (status == 0) return count;
    if (error != EINVAL) return 0;
  }
  return 0;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// A whole number from 1 to kMaxThreads, or 0.
int parse_thread_count(const std::string& text) {
  if (text.empty() || text.size() > 4 || text.find_first_not_of("0123456789") != std::string::npos) return 0;
  const int value = std::stoi(text);
  return value <= kMaxThreads ? value : 0;
}

std::string trimmed(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\n") - first + 1);
}

std::string cores_text(int cores) { return std::to_string(cores) + (cores == 1 ? " core" : " cores"); }

// Why usable_cores() is what it is, for warnings.
std::string core_limit_reason(int affinity, std::optional<double> quota) {
  std::ostringstream reason;
  reason << "its CPU affinity mask holds " << affinity << (affinity == 1 ? " CPU" : " CPUs");
  if (quota) reason << " and its cgroup CPU quota is " << *quota << (*quota == 1.0 ? " CPU" : " CPUs");
  return reason.str();
}

std::optional<double> system_cpu_quota() {
  return detail::cgroup_cpu_quota(read_text("/proc/self/cgroup"), "/sys/fs/cgroup");
}

// The processes of this job on this machine, as its launcher says; 1 when none says.
int local_processes() {
  for (const char* variable : {"LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}) {
    const char* value = std::getenv(variable);
    if (value == nullptr) continue;
    const int count = parse_thread_count(trimmed(value));
    if (count > 0) return count;
  }
  return 1;
}

// The count every thread's kernels use; 0 until set_num_threads or the default chose one.
std::atomic<int> process_threads{0};
std::once_flag default_threads_chosen;
std::atomic<bool> capped_request_warned{false};

int current_threads() {
  const int threads = process_threads.load(std::memory_order_acquire);
  if (threads != 0) return threads;
  std::call_once(default_threads_chosen, [] {
    const ThreadChoice choice = choose_num_threads();
    if (!choice.warning.empty()) std::cerr << "wisp: warning: " << choice.warning << "\n";
    int unset = 0;  // a concurrent set_num_threads wins
    process_threads.compare_exchange_strong(unset, choice.threads, std::memory_order_acq_rel);
  });
  return process_threads.load(std::memory_order_acquire);
}

int usable_cores_of(int affinity, std::optional<double> quota) {
  int cores = affinity > 0 ? affinity : std::max(1, omp_get_num_procs());
  if (quota) cores = std::min(cores, static_cast<int>(std::ceil(*quota - 1e-9)));
  return std::max(1, cores);
}

}  // namespace

namespace detail {

std::optional<double> cpu_max_quota(const std::string& text) {
  std::istringstream fields(text);
  std::string quota;
  double period = 0;
  if (!(fields >> quota >> period) || quota == "max" || period <= 0) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(quota.c_str(), &end);
  if (end == quota.c_str() || *end != '\0' || !(value > 0)) return std::nullopt;
  return value / period;
}

std::optional<double> cgroup_cpu_quota(const std::string& proc_self_cgroup, const std::string& cgroup_root) {
  namespace fs = std::filesystem;
  std::optional<double> smallest;
  const auto consider = [&](std::optional<double> quota) {
    if (quota && (!smallest || *quota < *smallest)) smallest = quota;
  };
  // Each cgroup from `relative` up to the hierarchy's root at `base`. In a container without a
  // cgroup namespace the named path may not exist under the container's view: its ancestors
  // (ending at `base`, the container's own cgroup) still do.
  const auto each_level = [](const fs::path& base, const std::string& relative, auto&& visit) {
    const fs::path below = fs::path(relative).lexically_normal().relative_path();
    fs::path level = base;
    for (const fs::path& part : below)
      if (!part.empty() && part != "." && part != "..") level /= part;
    while (true) {
      visit(level);
      if (level == base || level.string().size() <= base.string().size()) break;
      level = level.parent_path();
    }
  };
  std::istringstream lines(proc_self_cgroup);
  std::string line;
  while (std::getline(lines, line)) {
    // "hierarchy-id:controllers:path"; cgroup v2 is "0::path".
    const size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string id = line.substr(0, first), controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (id == "0" && controllers.empty()) {
      each_level(fs::path(cgroup_root), path, [&](const fs::path& level) {
        std::error_code ignored;
        if (fs::exists(level / "cpu.max", ignored)) consider(cpu_max_quota(read_text(level / "cpu.max")));
      });
      continue;
    }
    std::istringstream names(controllers);
    std::string name;
    bool has_cpu = false;
    while (std::getline(names, name, ',')) has_cpu = has_cpu || name == "cpu";
    if (!has_cpu) continue;
    // cgroup v1: the cpu controller's hierarchy is mounted at cpu (often a link to cpu,cpuacct).
    each_level(fs::path(cgroup_root) / "cpu", path, [&](const fs::path& level) {
      std::error_code ignored;
      if (!fs::exists(level / "cpu.cfs_quota_us", ignored)) return;
      const std::string quota = trimmed(read_text(level / "cpu.cfs_quota_us"));
      const std::string period = trimmed(read_text(level / "cpu.cfs_period_us"));
      consider(cpu_max_quota(quota + " " + period));  // -1: no quota, refused as not positive
    });
  }
  return smallest;
}

void use_num_threads() {
  // OpenMP keeps the count per thread (omp_set_num_threads sets the calling thread's); each thread
  // takes the process's count when it differs from the one it last took.
  thread_local int applied = 0;
  const int threads = current_threads();
  if (threads != applied) {
    omp_set_num_threads(threads);
    applied = threads;
  }
}

}  // namespace detail

void set_num_threads(int num_threads) {
  WISP_CHECK(num_threads >= 1 && num_threads <= kMaxThreads, "set_num_threads: expected 1 to ", kMaxThreads,
             " threads but got ", num_threads);
  const int affinity = affinity_cpus();
  const std::optional<double> quota = system_cpu_quota();
  const int cores = usable_cores_of(affinity, quota);
  if (num_threads > cores && !capped_request_warned.exchange(true)) {
    std::cerr << "wisp: warning: set_num_threads(" << num_threads << ") is more than the " << cores_text(cores)
              << " this process may use (" << core_limit_reason(affinity, quota) << "): using " << cores
              << (cores == 1 ? " thread" : " threads") << " (this warning is printed once)\n";
  }
  process_threads.store(std::min(num_threads, cores), std::memory_order_release);
  detail::use_num_threads();
}

int get_num_threads() {
  detail::use_num_threads();
  return omp_get_max_threads();
}

int usable_cores() { return usable_cores_of(affinity_cpus(), system_cpu_quota()); }

ThreadChoice choose_num_threads(std::optional<int> requested, const std::string& option) {
  const int affinity = affinity_cpus();
  const std::optional<double> quota = system_cpu_quota();
  const int cores = usable_cores_of(affinity, quota);
  ThreadChoice choice;
  choice.local_processes = local_processes();
  choice.threads = std::max(1, cores / choice.local_processes);
  if (requested) {
    WISP_CHECK(*requested >= 1 && *requested <= kMaxThreads,
               "choose_num_threads: ", option.empty() ? "--threads" : option, ": expected 1 to ", kMaxThreads,
               " threads but got ", *requested);
    choice.requested = *requested;
    choice.source = option.empty() ? "--threads" : option;
  } else {
    for (const char* variable : {"WISP_NUM_THREADS", "OMP_NUM_THREADS"}) {
      const char* value = std::getenv(variable);
      if (value == nullptr || trimmed(value).empty()) continue;
      // libgomp reads a list ("4,2": 4 threads, then 2 in nested regions); the first is ours.
      std::string text = trimmed(value);
      if (std::string(variable) == "OMP_NUM_THREADS") text = trimmed(text.substr(0, text.find(',')));
      const int count = parse_thread_count(text);
      if (count == 0) {
        choice.warning += std::string(choice.warning.empty() ? "" : "; ") + "ignoring " + variable + "='" + value +
                          "': expected a whole number from 1 to " + std::to_string(kMaxThreads);
        continue;
      }
      choice.requested = count;
      choice.source = variable;
      break;
    }
  }
  if (choice.requested == 0) return choice;
  choice.threads = std::min(choice.requested, cores);
  if (choice.requested > cores) {
    // "--threads 4" for an option, "OMP_NUM_THREADS=4" for a variable.
    const std::string separator = choice.source.rfind("--", 0) == 0 ? " " : "=";
    choice.warning += std::string(choice.warning.empty() ? "" : "; ") + choice.source + separator +
                      std::to_string(choice.requested) + " is more than the " + cores_text(cores) +
                      " this process may use (" + core_limit_reason(affinity, quota) + "): using " +
                      std::to_string(cores) + (cores == 1 ? " thread" : " threads");
  }
  return choice;
}

}  // namespace wisp
