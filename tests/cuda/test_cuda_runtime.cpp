// The CUDA device-memory runtime (core/cuda/runtime.h) as tensors use it: transfers, factories
// on the GPU, the caching allocator, the one stream per device, synchronisation, printing and the
// mixed-device error. Runs only with a GPU (cuda_main.cpp returns 77, "skipped", otherwise).
#include <algorithm>
#include <cstdint>
#include <sstream>
#include <vector>

#include <wisp/core/cuda/runtime.h>

#include "test_helpers.h"

using namespace wisp;

namespace {

const Device kGpu = Device::cuda(0);

// CPU -> GPU -> CPU for one dtype: same shape, dtype and values; the GPU copy reports its device.
template <class T>
void check_round_trip(const std::vector<T>& data, const Shape& shape) {
  INFO("dtype " << dtype_of<T>() << ", shape " << shape);
  const Tensor host = from_vector(data, shape);
  const Tensor gpu = host.to(kGpu);
  REQUIRE(gpu.is_cuda());
  CHECK(gpu.device() == kGpu);
  CHECK(gpu.dtype() == host.dtype());
  CHECK(gpu.shape() == shape);
  CHECK(gpu.to_vector<T>() == data);  // to_vector copies from any device
  const Tensor back = gpu.to(Device::cpu());
  REQUIRE(back.is_cpu());
  CHECK(back.dtype() == host.dtype());
  CHECK(back.shape() == shape);
  CHECK(back.to_vector<T>() == data);
  CHECK(gpu.to(kGpu).raw_data() == gpu.raw_data());  // already there: the same tensor
}

}  // namespace

TEST_CASE("tensors round-trip CPU -> CUDA -> CPU unchanged for every dtype", "[cuda][runtime]") {
  check_round_trip<float>({1.5f, -2.25f, 0.0f, 3.0e-38f, 1.0e30f, -0.0f}, {2, 3});
  check_round_trip<int64_t>({0, -1, int64_t{1} << 40, 7}, {4});
  check_round_trip<int32_t>({2147483647, -2147483647 - 1, 0, 5, 6, 7}, {3, 2});
  check_round_trip<uint8_t>({0, 1, 127, 128, 255}, {5});
  check_round_trip<float>({}, {0, 3});  // no elements, no allocation
  manual_seed(3);
  const Tensor large = randn({257, 1031});  // not a multiple of any block size
  CHECK(large.to(kGpu).to(Device::cpu()).to_vector<float>() == large.to_vector<float>());
}

TEST_CASE("factories on a GPU give the CPU's values", "[cuda][runtime]") {
  CHECK(zeros({3, 5}, kGpu).to_vector<float>() == zeros({3, 5}).to_vector<float>());
  CHECK(ones({4, 2}, kGpu).to_vector<float>() == std::vector<float>(8, 1.0f));
  const TensorOptions int64_gpu = TensorOptions(DType::Int64).device(kGpu);
  CHECK(zeros({6}, int64_gpu).to_vector<int64_t>() == std::vector<int64_t>(6, 0));
  CHECK(ones({6}, TensorOptions(DType::UInt8).device(kGpu)).to_vector<uint8_t>() == std::vector<uint8_t>(6, 1));
  CHECK(ones({2}, kGpu).device() == kGpu);
  CHECK(ones({1}, kGpu).item<float>() == 1.0f);

  manual_seed(42);
  const std::vector<float> cpu_values = rand({1000}).to_vector<float>();
  manual_seed(42);
  const Tensor gpu_random = rand({1000}, kGpu);
  CHECK(gpu_random.device() == kGpu);
  CHECK(gpu_random.to_vector<float>() == cpu_values);  // same seed, same numbers, any device
}

TEST_CASE("the caching allocator reuses freed blocks", "[cuda][runtime]") {
  for (size_t nbytes : {size_t{1000}, size_t{3} << 20}) {
    INFO(nbytes << " bytes");
    void* first = cuda_runtime::allocate(nbytes, 0);
    REQUIRE(first != nullptr);
    cuda_runtime::deallocate(first, nbytes, 0);
    void* second = cuda_runtime::allocate(nbytes, 0);
    CHECK(second == first);  // from the cache, not from cudaMalloc
    void* third = cuda_runtime::allocate(nbytes, 0);
    CHECK(third != second);  // the cached block is in use
    cuda_runtime::deallocate(second, nbytes, 0);
    cuda_runtime::deallocate(third, nbytes, 0);
  }
  // A tensor's storage goes back to the cache when its last handle dies.
  void* address = nullptr;
  {
    const Tensor t = zeros({1000}, kGpu);
    address = t.raw_data();
  }
  const Tensor again = zeros({1000}, kGpu);
  CHECK(again.raw_data() == address);
  CHECK(again.to_vector<float>() == std::vector<float>(1000, 0.0f));
}

TEST_CASE("synchronize waits for a GPU", "[cuda][runtime]") {
  const Tensor t = ones({1 << 16}, kGpu);
  REQUIRE_NOTHROW(synchronize(kGpu));
  REQUIRE_NOTHROW(synchronize(Device::cuda(cuda::device_count() - 1)));
  REQUIRE_NOTHROW(synchronize(Device::cpu()));
  WISP_REQUIRE_ERROR(zeros({2}, Device::cuda(cuda::device_count())), "is not available");
}

TEST_CASE("each GPU has one stream, which orders copies and ops without an explicit synchronize", "[cuda][runtime]") {
  // The same non-null stream on every call (null would be the legacy default stream), one per GPU.
  CUstream_st* const stream = cuda_runtime::stream(0);
  REQUIRE(stream != nullptr);
  CHECK(cuda_runtime::stream(0) == stream);
  CHECK(cuda_runtime::stream(kGpu.index) == stream);
  const int gpus = cuda::device_count();
  for (int device = 1; device < gpus; ++device) {
    INFO("GPU " << device);
    CHECK(cuda_runtime::stream(device) != nullptr);
    CHECK(cuda_runtime::stream(device) != stream);
    CHECK(cuda_runtime::stream(device) == cuda_runtime::stream(device));
  }
  WISP_REQUIRE_ERROR(cuda_runtime::stream(gpus), "is not available");

  // Host -> device, eight queued ops, device -> host: the copy back waits for the ops. 4M elements
  // (16 MiB), so that unordered work would be caught mid-way; small integers keep every value exact.
  constexpr int64_t n = int64_t{1} << 22;
  std::vector<float> data(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) data[static_cast<size_t>(i)] = static_cast<float>(i % 1024);
  Tensor gpu = from_vector(data, {n}).to(kGpu);
  for (int step = 0; step < 8; ++step) gpu = gpu * 2.0 + 1.0;
  const std::vector<float> result = gpu.to_vector<float>();
  REQUIRE(result.size() == data.size());
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float expected = (data[static_cast<size_t>(i)] + 1.0f) * 256.0f - 1.0f;  // x -> 2x + 1, 8 times
    if (result[static_cast<size_t>(i)] != expected) ++wrong;
  }
  CHECK(wrong == 0);

  // A block freed while a queued kernel still reads it is handed out again; the new owner's memset
  // is queued behind that kernel, so the kernel's result is intact.
  {
    Tensor source = from_vector(data, {n}).to(kGpu);
    const Tensor tripled = source * 3.0;
    source = Tensor();
    const Tensor reused = zeros({n}, kGpu);
    const std::vector<float> values = tripled.to_vector<float>();
    int64_t mismatches = 0;
    for (int64_t i = 0; i < n; ++i)
      if (values[static_cast<size_t>(i)] != data[static_cast<size_t>(i)] * 3.0f) ++mismatches;
    CHECK(mismatches == 0);
    CHECK(reused.sum().item<float>() == 0.0f);
  }

  // The runtime's own calls: a memset and a copy within the GPU are queued, the copy to the host
  // waits for them.
  const size_t nbytes = data.size() * sizeof(float);
  void* a = cuda_runtime::allocate(nbytes, 0);
  void* b = cuda_runtime::allocate(nbytes, 0);
  cuda_runtime::copy(a, 0, data.data(), -1, nbytes);
  cuda_runtime::zero(b, nbytes, 0);
  cuda_runtime::copy(b, 0, a, 0, nbytes);
  std::vector<float> back(data.size(), -1.0f);
  cuda_runtime::copy(back.data(), -1, b, 0, nbytes);
  CHECK(back == data);
  cuda_runtime::zero(b, nbytes, 0);
  cuda_runtime::copy(back.data(), -1, b, 0, nbytes);
  CHECK(back == std::vector<float>(data.size(), 0.0f));
  cuda_runtime::deallocate(a, nbytes, 0);
  cuda_runtime::deallocate(b, nbytes, 0);

  // synchronize waits for queued work, through the public API and the runtime.
  const Tensor queued = gpu * 0.5;
  REQUIRE_NOTHROW(synchronize(kGpu));
  REQUIRE_NOTHROW(cuda_runtime::synchronize(0));
  CHECK(queued.to_vector<float>()[1] == result[1] * 0.5f);
}

TEST_CASE("EventTimer times work on the device's stream", "[cuda][runtime]") {
  cuda_runtime::EventTimer timer(0);
  WISP_REQUIRE_ERROR(timer.elapsed_ms(), "start() and stop() must both have run");
  const Tensor x = ones({int64_t{1} << 24}, kGpu);  // 64 MiB
  synchronize(kGpu);
  timer.start();
  Tensor y = x;
  for (int step = 0; step < 20; ++step) y = y * 1.0 + 0.0;
  timer.stop();
  const double busy_ms = timer.elapsed_ms();
  INFO("40 passes over 64 MiB: " << busy_ms << " ms");
  CHECK(busy_ms > 0.0);
  CHECK(busy_ms < 10000.0);
  timer.start();
  timer.stop();
  const double idle_ms = timer.elapsed_ms();
  INFO("nothing between the events: " << idle_ms << " ms");
  CHECK(idle_ms >= 0.0);
  CHECK(idle_ms < busy_ms);
  const std::vector<float> values = y.to_vector<float>();  // the timer changed nothing
  CHECK(std::all_of(values.begin(), values.end(), [](float v) { return v == 1.0f; }));
  WISP_REQUIRE_ERROR(cuda_runtime::EventTimer(cuda::device_count()), "is not available");
}

TEST_CASE("a CUDA tensor prints its device", "[cuda][runtime]") {
  std::ostringstream stream;
  stream << from_vector(std::vector<float>{1, 2}, {2}).to(kGpu);
  INFO(stream.str());
  CHECK(stream.str().find("device='cuda:0'") != std::string::npos);
  CHECK(stream.str().find("1.") != std::string::npos);
}

TEST_CASE("an op on tensors on different devices names both devices", "[cuda][runtime]") {
  const Tensor a = ones({3});
  const Tensor b = ones({3}, kGpu);
  WISP_REQUIRE_ERROR(a + b, "cpu", "cuda:0");
  WISP_REQUIRE_ERROR(b * a, "cuda:0", "cpu");
}
