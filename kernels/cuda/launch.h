// Launch helpers for the CUDA twins (include only from kernels/cuda/*.cu).
#pragma once

#include <cuda_runtime.h>

#include "core/tensor.h"
#include "kernels/cuda/check.h"
#include "kernels/device_indexing.h"

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

// Grid-stride loop over [0, n): for (i = first(); i < n; i += step()).
__device__ inline int64_t grid_first() { return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline int64_t grid_step() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// Launches kernel<<<blocks_for(n), kThreadsPerBlock>>>(n, args...) on the default stream of the
// current device and checks the launch. Nothing is launched for n = 0.
template <class... KernelArguments, class... Arguments>
void launch(void (*kernel)(int64_t, KernelArguments...), int64_t n, Arguments... arguments) {
  if (n == 0) return;
  kernel<<<static_cast<unsigned>(blocks_for(n)), kThreadsPerBlock>>>(n, arguments...);
  WISP_CUDA_CHECK_LAUNCH();
}

}  // namespace wisp::kernels::cuda
