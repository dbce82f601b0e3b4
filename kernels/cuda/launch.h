// Launch helpers for the CUDA twins (include only from kernels/cuda/*.cu).
#pragma once

#include <cuda_runtime.h>

#include <mutex>
#include <vector>

#include "wisp/core/cuda/check.h"
#include "wisp/core/cuda/runtime.h"
#include "wisp/core/tensor.h"
#include "wisp/kernels/device_indexing.h"

namespace wisp::kernels::cuda {

// Makes the tensor's GPU current for the launches in its scope, restoring the previous one after.
class DeviceScope {
 public:
  explicit DeviceScope(const Tensor& tensor) {
    WISP_CUDA_CHECK(cudaGetDevice(&previous_));
    const int device = tensor.device().index;
    if (device != previous_) WISP_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceScope() { cudaSetDevice(previous_); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

inline int current_device() {
  int device = 0;
  WISP_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

// The stream of the current device (core/cuda/runtime.h): every launch, copy, memset and
// library call of a twin goes there.
inline cudaStream_t current_stream() { return cuda_runtime::stream(current_device()); }

// Copies and memsets on the current device's stream (runtime.h): those with the host return when
// done; those within the device are queued behind the earlier launches.
inline void copy_to_host(void* host, const void* device_memory, size_t nbytes) {
  cuda_runtime::copy(host, -1, device_memory, current_device(), nbytes);
}
inline void copy_to_device(void* device_memory, const void* host, size_t nbytes) {
  cuda_runtime::copy(device_memory, current_device(), host, -1, nbytes);
}
inline void copy_within_device(void* destination, const void* source, size_t nbytes) {
  const int device = current_device();
  cuda_runtime::copy(destination, device, source, device, nbytes);
}
inline void zero_on_device(void* destination, size_t nbytes) {
  cuda_runtime::zero(destination, nbytes, current_device());
}

// A library handle (cuBLAS, cuSPARSE) for the current device: made by create(device) on first use,
// bound to that device's stream by it, and kept for the life of the process (destroying handles
// during exit races with other static destructors). One cache per call site (per Create type).
template <class Handle, class Create>
Handle per_device_handle(Create create) {
  static std::mutex mutex;
  static std::vector<Handle>* handles = new std::vector<Handle>();
  const int device = current_device();
  const std::lock_guard<std::mutex> lock(mutex);
  if (handles->size() <= static_cast<size_t>(device)) handles->resize(static_cast<size_t>(device) + 1, Handle{});
  Handle& handle = (*handles)[static_cast<size_t>(device)];
  if (handle == Handle{}) handle = create(device);
  return handle;
}

// Grid-stride loop over [0, n): for (i = first(); i < n; i += step()).
__device__ inline int64_t grid_first() { return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline int64_t grid_step() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// Launches kernel<<<blocks_for(n), kThreadsPerBlock>>>(n, args...) on the current device's stream
// and checks the launch. Nothing is launched for n = 0.
template <class... KernelArguments, class... Arguments>
void launch(void (*kernel)(int64_t, KernelArguments...), int64_t n, Arguments... arguments) {
  if (n == 0) return;
  kernel<<<static_cast<unsigned>(blocks_for(n)), kThreadsPerBlock, 0, current_stream()>>>(n, arguments...);
  WISP_CUDA_CHECK_LAUNCH();
}

// Launches kernel<<<grid, block>>>(args...) with a geometry of the caller's (a block per row, 2-D
// tiles) on the current device's stream and checks the launch.
template <class... KernelArguments, class... Arguments>
void launch_blocks(void (*kernel)(KernelArguments...), dim3 grid, dim3 block, Arguments... arguments) {
  kernel<<<grid, block, 0, current_stream()>>>(arguments...);
  WISP_CUDA_CHECK_LAUNCH();
}

}  // namespace wisp::kernels::cuda
