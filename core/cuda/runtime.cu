// CUDA device-memory runtime: device queries, a caching allocator, copies, synchronisation, event timers.
#include "wisp/core/cuda/runtime.h"

#include <cuda_runtime.h>

#include <cstddef>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "wisp/core/cuda/check.h"

namespace wisp::cuda_runtime {
namespace {

// Sizes are rounded up to a size class so that freed blocks are reusable by nearby requests:
// multiples of 512 bytes below 1 MiB, multiples of 2 MiB above. nbytes <= kMaxAllocationBytes, so
// the rounding cannot wrap around.
constexpr size_t kMaxAllocationBytes = static_cast<size_t>(PTRDIFF_MAX);
size_t size_class(size_t nbytes) {
  constexpr size_t kSmall = 512, kLarge = size_t{2} << 20;
  const size_t step = nbytes < (size_t{1} << 20) ? kSmall : kLarge;
  return (nbytes + step - 1) / step * step;
}

// Freed blocks per (device, size class). cudaFree synchronises the device, so a training loop
// that reallocates the same shapes every step must never reach it.
struct Cache {
  std::mutex mutex;
  std::map<std::pair<int, size_t>, std::vector<void*>> free_blocks;
};

Cache& cache() {
  static Cache* instance = new Cache();  // never destroyed: tensors may be freed during exit
  return *instance;
}

struct DeviceGuard {
  int previous = 0;
  explicit DeviceGuard(int device) {
    WISP_CUDA_CHECK(cudaGetDevice(&previous));
    if (previous != device) WISP_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { cudaSetDevice(previous); }
};

// One stream per device (see runtime.h), created under a mutex on first use and never destroyed
// (streams are released with the context at exit; destroying them from static destructors races).
cudaStream_t stream_for(int device) {
  static std::mutex mutex;
  static std::vector<cudaStream_t>* streams = new std::vector<cudaStream_t>();
  const std::lock_guard<std::mutex> lock(mutex);
  if (streams->size() <= static_cast<size_t>(device)) streams->resize(static_cast<size_t>(device) + 1, nullptr);
  cudaStream_t& stream = (*streams)[static_cast<size_t>(device)];
  if (stream == nullptr) {
    DeviceGuard guard(device);
    WISP_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamDefault));
  }
  return stream;
}

}  // namespace

CUstream_st* stream(int device) {
  const int count = device_count();
  WISP_CHECK(device >= 0 && device < count, "CUDA device ", device, " is not available (", count,
             " usable GPU(s) found)");
  return stream_for(device);
}

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver / no device" error
    return 0;
  }
  return count;
}

void* allocate(size_t nbytes, int device) {
  const int count = device_count();
  WISP_CHECK(device >= 0 && device < count, "CUDA device ", device, " is not available (", count,
             " usable GPU(s) found)");
  WISP_CHECK(nbytes <= kMaxAllocationBytes, "CUDA allocator: cannot allocate ", nbytes, " bytes on GPU ", device,
             ": an allocation holds at most ", kMaxAllocationBytes, " bytes");
  const size_t rounded = size_class(nbytes);
  {
    std::lock_guard<std::mutex> lock(cache().mutex);
    auto found = cache().free_blocks.find({device, rounded});
    if (found != cache().free_blocks.end() && !found->second.empty()) {
      void* block = found->second.back();
      found->second.pop_back();
      return block;
    }
  }
  DeviceGuard guard(device);
  void* block = nullptr;
  if (cudaMalloc(&block, rounded) != cudaSuccess) {
    cudaGetLastError();
    empty_cache();  // give cached blocks back and try once more
    WISP_CUDA_CHECK(cudaMalloc(&block, rounded));
  }
  return block;
}

void deallocate(void* pointer, size_t nbytes, int device) {
  std::lock_guard<std::mutex> lock(cache().mutex);
  // Storage's destructor calls this: a cache that cannot grow frees the block instead of throwing.
  try {
    cache().free_blocks[{device, size_class(nbytes)}].push_back(pointer);
  } catch (const std::bad_alloc&) {
    int previous = 0;  // not DeviceGuard, which throws: errors here have nowhere to go
    cudaGetDevice(&previous);
    cudaSetDevice(device);
    cudaFree(pointer);
    cudaSetDevice(previous);
  }
}

void empty_cache() {
  std::lock_guard<std::mutex> lock(cache().mutex);
  for (auto& [key, blocks] : cache().free_blocks) {
    DeviceGuard guard(key.first);
    for (void* block : blocks) WISP_CUDA_CHECK(cudaFree(block));
    blocks.clear();
  }
}

void copy(void* destination, int destination_device, const void* source, int source_device, size_t nbytes) {
  if (nbytes == 0) return;
  if (destination_device < 0 && source_device < 0) {
    std::memcpy(destination, source, nbytes);
    return;
  }
  if (destination_device >= 0 && source_device >= 0 && destination_device != source_device) {
    // Between two GPUs: the source's pending work first, then the copy on the destination's stream,
    // finished before returning (such copies are rare: Tensor::to between GPUs).
    synchronize(source_device);
    DeviceGuard guard(destination_device);
    WISP_CUDA_CHECK(cudaMemcpyPeerAsync(destination, destination_device, source, source_device, nbytes,
                                        stream_for(destination_device)));
    synchronize(destination_device);
    return;
  }
  const int device = destination_device >= 0 ? destination_device : source_device;
  const cudaMemcpyKind kind = destination_device < 0 ? cudaMemcpyDeviceToHost
                              : source_device < 0    ? cudaMemcpyHostToDevice
                                                     : cudaMemcpyDeviceToDevice;
  DeviceGuard guard(device);
  const cudaStream_t on = stream_for(device);
  WISP_CUDA_CHECK(cudaMemcpyAsync(destination, source, nbytes, kind, on));
  // The host may read (or free) its side as soon as this returns.
  if (kind != cudaMemcpyDeviceToDevice) WISP_CUDA_CHECK(cudaStreamSynchronize(on));
}

void zero(void* destination, size_t nbytes, int device) {
  if (nbytes == 0) return;
  DeviceGuard guard(device);
  WISP_CUDA_CHECK(cudaMemsetAsync(destination, 0, nbytes, stream_for(device)));
}

void synchronize(int device) {
  DeviceGuard guard(device);
  WISP_CUDA_CHECK(cudaStreamSynchronize(stream_for(device)));
}

EventTimer::EventTimer(int device) : device_(device) {
  stream(device);  // checks the device and creates its stream
  DeviceGuard guard(device);
  WISP_CUDA_CHECK(cudaEventCreate(&start_));
  try {
    WISP_CUDA_CHECK(cudaEventCreate(&stop_));
  } catch (...) {
    cudaEventDestroy(start_);
    throw;
  }
}

EventTimer::~EventTimer() {
  cudaEventDestroy(start_);  // errors ignored: nothing to do about them in a destructor
  cudaEventDestroy(stop_);
}

void EventTimer::start() {
  DeviceGuard guard(device_);
  WISP_CUDA_CHECK(cudaEventRecord(start_, stream_for(device_)));
}

void EventTimer::stop() {
  DeviceGuard guard(device_);
  WISP_CUDA_CHECK(cudaEventRecord(stop_, stream_for(device_)));
}

double EventTimer::elapsed_ms() {
  WISP_CUDA_CHECK(cudaEventSynchronize(stop_));
  float ms = 0;
  const cudaError_t status = cudaEventElapsedTime(&ms, start_, stop_);
  if (status != cudaSuccess) {
    cudaGetLastError();  // not sticky: clear it, or the next launch check would report it
    WISP_FAIL("EventTimer::elapsed_ms: cudaEventElapsedTime failed: ", cudaGetErrorName(status), " (",
              cudaGetErrorString(status), "); start() and stop() must both have run");
  }
  return static_cast<double>(ms);
}

}  // namespace wisp::cuda_runtime
