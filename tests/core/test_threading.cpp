// Thread counts: the cores a process may use (affinity mask, cgroup CPU quotas read from a fake
// cgroup tree) and how choose_num_threads lowers requests and reads the environment.
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "test_helpers.h"

using namespace wisp;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("wisp_test_threading_" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  void write(const std::string& relative, const std::string& text) const {
    fs::create_directories((path / relative).parent_path());
    std::ofstream(path / relative) << text;
  }
};

using testing::EnvironmentGuard;

}  // namespace

TEST_CASE("cpu.max quotas in CPUs", "[core][threading]") {
  CHECK(detail::cpu_max_quota("150000 100000\n") == 1.5);
  CHECK(detail::cpu_max_quota("50000 100000") == 0.5);
  CHECK(detail::cpu_max_quota("400000 100000") == 4.0);
  CHECK_FALSE(detail::cpu_max_quota("max 100000\n"));
  CHECK_FALSE(detail::cpu_max_quota(""));
  CHECK_FALSE(detail::cpu_max_quota("-1 100000"));  // cgroup v1's "no quota"
  CHECK_FALSE(detail::cpu_max_quota("100000 0"));
  CHECK_FALSE(detail::cpu_max_quota("lots 100000"));
}

TEST_CASE("cgroup CPU quotas: the smallest over the cgroup and its ancestors", "[core][threading]") {
  TempDir root;
  const std::string base = root.path.string();
  SECTION("cgroup v2, quotas at several levels") {
    root.write("cpu.max", "300000 100000\n");
    root.write("user.slice/cpu.max", "200000 100000\n");
    root.write("user.slice/job/cpu.max", "max 100000\n");
    CHECK(detail::cgroup_cpu_quota("0::/user.slice/job\n", base) == 2.0);
  }
  SECTION("cgroup v2 in a container without a cgroup namespace: the named path is not there") {
    root.write("cpu.max", "50000 100000\n");
    CHECK(detail::cgroup_cpu_quota("0::/docker/0123abcd\n", base) == 0.5);
  }
  SECTION("cgroup v2 without any quota") {
    root.write("job/cpu.max", "max 100000\n");
    CHECK_FALSE(detail::cgroup_cpu_quota("0::/job\n", base));
    CHECK_FALSE(detail::cgroup_cpu_quota("", base));
  }
  SECTION("cgroup v1: the cpu controller's cfs quota and period") {
    root.write("cpu/batch/cpu.cfs_quota_us", "-1\n");
    root.write("cpu/batch/cpu.cfs_period_us", "100000\n");
    root.write("cpu/cpu.cfs_quota_us", "100000\n");
    root.write("cpu/cpu.cfs_period_us", "100000\n");
    CHECK(detail::cgroup_cpu_quota("5:memory:/batch\n4:cpu,cpuacct:/batch\n0::/batch\n", base) == 1.0);
    // Another controller's hierarchy is not the cpu controller's.
    CHECK_FALSE(detail::cgroup_cpu_quota("4:cpuacct:/batch\n", base));
  }
}

TEST_CASE("usable_cores follows the affinity mask", "[core][threading]") {
  const int cores = usable_cores();
  CHECK(cores >= 1);
  CHECK(cores <= static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  // Pinned to one CPU (as `taskset -c 0` pins a process), the calling thread has one core.
  cpu_set_t original;
  REQUIRE(sched_getaffinity(0, sizeof(original), &original) == 0);
  int first = 0;
  while (!CPU_ISSET(first, &original)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0);
  const int pinned = usable_cores();
  const ThreadChoice choice = choose_num_threads(4);
  REQUIRE(sched_setaffinity(0, sizeof(original), &original) == 0);
  CHECK(pinned == 1);
  CHECK(choice.threads == 1);
  CHECK(choice.requested == 4);
  CHECK(choice.warning.find("--threads 4 is more than the 1 core this process may use") != std::string::npos);
  CHECK(choice.warning.find("affinity mask holds 1 CPU") != std::string::npos);
  CHECK(usable_cores() == cores);
}

TEST_CASE("choose_num_threads: requests, environment variables, the default", "[core][threading]") {
  const int cores = usable_cores();
  EnvironmentGuard wisp_variable("WISP_NUM_THREADS", nullptr);
  EnvironmentGuard omp_variable("OMP_NUM_THREADS", nullptr);
  SECTION("no request: every usable core") {
    const ThreadChoice choice = choose_num_threads();
    CHECK(choice.threads == cores);
    CHECK(choice.requested == 0);
    CHECK(choice.source.empty());
    CHECK(choice.warning.empty());
  }
  SECTION("a request within the cores is kept") {
    const ThreadChoice choice = choose_num_threads(1, "--threads");
    CHECK(choice.threads == 1);
    CHECK(choice.source == "--threads");
    CHECK(choice.warning.empty());
  }
  SECTION("a request above the cores is lowered, with a warning") {
    const ThreadChoice choice = choose_num_threads(kMaxThreads, "--workers");
    CHECK(choice.threads == cores);
    CHECK(choice.requested == kMaxThreads);
    CHECK(choice.warning.find("--workers 1024 is more than the " + std::to_string(cores)) != std::string::npos);
  }
  SECTION("a request outside 1 to kMaxThreads is an error") {
    WISP_REQUIRE_ERROR(choose_num_threads(0), "--threads", "expected 1 to 1024 threads but got 0");
    WISP_REQUIRE_ERROR(choose_num_threads(kMaxThreads + 1), "but got 1025");
  }
  SECTION("OMP_NUM_THREADS: its first number, capped") {
    EnvironmentGuard omp("OMP_NUM_THREADS", "1,4");
    ThreadChoice choice = choose_num_threads();
    CHECK(choice.threads == 1);
    CHECK(choice.source == "OMP_NUM_THREADS");
    CHECK(choice.warning.empty());
    EnvironmentGuard many("OMP_NUM_THREADS", "1000");
    choice = choose_num_threads();
    CHECK(choice.threads == cores);
    CHECK(choice.warning.find("OMP_NUM_THREADS=1000 is more than the") != std::string::npos);
  }
  SECTION("WISP_NUM_THREADS comes first; an unreadable value is ignored with a warning") {
    EnvironmentGuard omp("OMP_NUM_THREADS", "1000");
    EnvironmentGuard wisp("WISP_NUM_THREADS", "1");
    CHECK(choose_num_threads().source == "WISP_NUM_THREADS");
    CHECK(choose_num_threads().threads == 1);
    EnvironmentGuard bad("WISP_NUM_THREADS", "lots");
    const ThreadChoice choice = choose_num_threads();
    CHECK(choice.source == "OMP_NUM_THREADS");
    CHECK(choice.warning.find("ignoring WISP_NUM_THREADS='lots': expected a whole number from 1 to 1024") !=
          std::string::npos);
  }
  SECTION("a request on the command line wins over the environment") {
    EnvironmentGuard wisp("WISP_NUM_THREADS", "lots");
    const ThreadChoice choice = choose_num_threads(1);
    CHECK(choice.threads == 1);
    CHECK(choice.warning.empty());
  }
}

TEST_CASE("choose_num_threads: the default divides the cores among a launcher's local processes", "[core][threading]") {
  const int cores = usable_cores();
  EnvironmentGuard wisp_variable("WISP_NUM_THREADS", nullptr);
  EnvironmentGuard omp_variable("OMP_NUM_THREADS", nullptr);
  EnvironmentGuard torchrun("LOCAL_WORLD_SIZE", nullptr);
  EnvironmentGuard open_mpi("OMPI_COMM_WORLD_LOCAL_SIZE", nullptr);
  EnvironmentGuard mpich("MPI_LOCALNRANKS", nullptr);
  CHECK(choose_num_threads().local_processes == 1);
  SECTION("torchrun's LOCAL_WORLD_SIZE") {
    EnvironmentGuard two("LOCAL_WORLD_SIZE", "2");
    const ThreadChoice choice = choose_num_threads();
    CHECK(choice.local_processes == 2);
    CHECK(choice.threads == std::max(1, cores / 2));
    CHECK(choice.warning.empty());
  }
  SECTION("Open MPI's and MPICH's variables; more processes than cores still get a thread each") {
    EnvironmentGuard many("OMPI_COMM_WORLD_LOCAL_SIZE", "1000");
    CHECK(choose_num_threads().threads == 1);
    EnvironmentGuard none("OMPI_COMM_WORLD_LOCAL_SIZE", nullptr);
    EnvironmentGuard two("MPI_LOCALNRANKS", "2");
    CHECK(choose_num_threads().local_processes == 2);
  }
  SECTION("an explicit count is not divided") {
    EnvironmentGuard two("LOCAL_WORLD_SIZE", "2");
    CHECK(choose_num_threads(cores).threads == cores);
    EnvironmentGuard wisp("WISP_NUM_THREADS", std::to_string(cores).c_str());
    CHECK(choose_num_threads().threads == cores);
  }
  SECTION("an unreadable value is ignored") {
    EnvironmentGuard bad("LOCAL_WORLD_SIZE", "two");
    CHECK(choose_num_threads().local_processes == 1);
  }
}

TEST_CASE("set_num_threads: process-wide, never above the usable cores", "[core][threading]") {
  const int cores = usable_cores();
  const int previous = get_num_threads();
  // Whatever chose it (the default, the environment, an earlier call), the count fits the cores.
  CHECK(previous >= 1);
  CHECK(previous <= cores);
  const auto count_on_new_thread = [] {
    int seen = 0;
    std::thread([&] { seen = get_num_threads(); }).join();
    return seen;
  };
  CHECK(count_on_new_thread() == previous);

  set_num_threads(1);
  CHECK(get_num_threads() == 1);
  CHECK(count_on_new_thread() == 1);  // other threads follow the process's count

  set_num_threads(cores + 1);  // lowered to the cores, with a warning on stderr
  CHECK(get_num_threads() == cores);
  CHECK(count_on_new_thread() == cores);
  set_num_threads(kMaxThreads);
  CHECK(get_num_threads() == cores);

  // Pinned to one CPU (as `taskset -c 0` pins a process), a request for 4 gets 1.
  cpu_set_t original;
  REQUIRE(sched_getaffinity(0, sizeof(original), &original) == 0);
  int first = 0;
  while (!CPU_ISSET(first, &original)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0);
  set_num_threads(4);
  const int pinned = get_num_threads();
  REQUIRE(sched_setaffinity(0, sizeof(original), &original) == 0);
  CHECK(pinned == 1);

  set_num_threads(previous);
  CHECK(get_num_threads() == previous);
}
