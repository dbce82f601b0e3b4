// Device: names, equality, and how a build or a machine without a GPU answers CUDA requests.
//
// Runs in every build (with or without the CUDA backend) and on every machine: what it expects of
// CUDA depends on config.h's WISP_WITH_CUDA and on cuda::device_count(). The [cuda] tests that need
// a GPU are in tests/cuda/.
#include <sstream>

#include "test_helpers.h"

using namespace wisp;

TEST_CASE("devices print as cpu and cuda:N", "[core][device]") {
  CHECK(Device::cpu().str() == "cpu");
  CHECK(Device::cuda().str() == "cuda:0");
  CHECK(Device::cuda(3).str() == "cuda:3");
  std::ostringstream stream;
  stream << Device::cpu() << " " << Device::cuda(1);
  CHECK(stream.str() == "cpu cuda:1");
  CHECK(Device::cpu().is_cpu());
  CHECK_FALSE(Device::cpu().is_cuda());
  CHECK(Device::cuda(2).is_cuda());
  CHECK(Device::cuda(2).index == 2);
}

TEST_CASE("device equality compares the type, and the index of GPUs", "[core][device]") {
  CHECK(Device::cpu() == Device::cpu());
  CHECK(Device::cuda(0) == Device::cuda());
  CHECK(Device::cuda(0) != Device::cuda(1));
  CHECK(Device::cpu() != Device::cuda(0));
  CHECK(Device{DeviceType::CPU, 5} == Device::cpu());  // there is one CPU device
  CHECK(zeros({2}).device() == Device::cpu());
}

TEST_CASE("cuda::is_available and device_count agree and never throw", "[core][device]") {
  int count = -1;
  REQUIRE_NOTHROW(count = cuda::device_count());
  CHECK(count >= 0);
  CHECK(cuda::is_available() == (count > 0));
  if (!WISP_WITH_CUDA) {
    CHECK(count == 0);
    CHECK_FALSE(cuda::is_available());
  }
  REQUIRE_NOTHROW(synchronize(Device::cpu()));  // the CPU is synchronous: a no-op
}

TEST_CASE("using a GPU that is not there is a clear error", "[core][device]") {
  const int count = cuda::device_count();
  const Device missing = Device::cuda(count);  // cuda:0 on a machine without a GPU
  INFO("built with CUDA: " << WISP_WITH_CUDA << ", usable GPUs: " << count);
  if (WISP_WITH_CUDA) {
    // The caching allocator refuses the index, naming it and the number of GPUs found.
    WISP_REQUIRE_ERROR(zeros({2}, missing), "CUDA device " + std::to_string(count), "is not available",
                       std::to_string(count) + " usable GPU(s)");
  } else {
    // A CPU-only build says so, names the device and how to get CUDA support.
    WISP_REQUIRE_ERROR(zeros({2}, missing), "built without CUDA support", missing.str(), "WISP_CUDA=ON");
    WISP_REQUIRE_ERROR(synchronize(missing), "built without CUDA support", missing.str());
  }
  // Every way of putting a tensor there fails the same way, with a wisp::Error rather than a crash.
  CHECK_THROWS_AS(ones({2, 3}, missing), Error);
  CHECK_THROWS_AS(empty({4}, TensorOptions(DType::Int64).device(missing)), Error);
  CHECK_THROWS_AS(rand({3}, missing), Error);
  CHECK_THROWS_AS(from_vector(std::vector<float>{1, 2}, {2}, missing), Error);
  CHECK_THROWS_AS(ones({2}).to(missing), Error);
  if (count == 0) CHECK_THROWS_AS(synchronize(Device::cuda(0)), Error);
}

TEST_CASE("devices are named by strings as PyTorch names them", "[core][device]") {
  CHECK(Device("cpu") == Device::cpu());
  CHECK(Device("cuda") == Device::cuda(0));
  CHECK(Device("cuda:1") == Device::cuda(1));
  CHECK(Device(std::string("cuda:12")).index == 12);
  CHECK(Device(Device::cuda(3).str()) == Device::cuda(3));  // str() round-trips
  CHECK(Device() == Device::cpu());
  CHECK(Device(DeviceType::CUDA, 2) == Device::cuda(2));
  for (const char* bad :
       {"", "gpu", "CPU", "cuda:", "cuda:-1", "cuda:1x", "cuda:+1", " cuda", "cpu:0", "cuda:1234567890"})
    WISP_REQUIRE_ERROR(Device(bad), std::string("invalid device name '") + bad + "'",
                       "expected cpu, cuda or cuda:N (N a GPU index)");
}
