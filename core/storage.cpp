#include "core/storage.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/config.h"
#include "core/error.h"
#if WISP_WITH_CUDA
#include "kernels/cuda/runtime.h"
#endif

namespace wisp {
namespace {

constexpr size_t kCpuAlignment = 64;  // a cache line; also what AVX-512 loads would want

#if !WISP_WITH_CUDA
[[noreturn]] void no_cuda(Device device) {
  WISP_FAIL("wisp was built without CUDA support (nvcc was not found when CMake configured it), so ",
            device, " cannot be used; reconfigure with nvcc on PATH or -DWISP_CUDA=ON");
}
#endif

}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (nbytes == 0) return;
  if (device.is_cpu()) {
    const size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    data_ = std::aligned_alloc(kCpuAlignment, rounded);
    if (data_ == nullptr) {
      WISP_FAIL("out of CPU memory: could not allocate ", nbytes, " bytes");
    }
    return;
  }
#if WISP_WITH_CUDA
  data_ = cuda_runtime::allocate(nbytes, device.index);
#else
  no_cuda(device);
#endif
}

Storage::~Storage() {
  if (data_ == nullptr) return;
  if (device_.is_cpu()) {
    std::free(data_);
    return;
  }
#if WISP_WITH_CUDA
  cuda_runtime::deallocate(data_, nbytes_, device_.index);
#endif
}

void copy_bytes(void* destination, Device destination_device, const void* source, Device source_device,
                size_t nbytes) {
  if (nbytes == 0) return;
  if (destination_device.is_cpu() && source_device.is_cpu()) {
    std::memcpy(destination, source, nbytes);
    return;
  }
#if WISP_WITH_CUDA
  cuda_runtime::copy(destination, destination_device.is_cuda() ? destination_device.index : -1, source,
                     source_device.is_cuda() ? source_device.index : -1, nbytes);
#else
  no_cuda(destination_device.is_cuda() ? destination_device : source_device);
#endif
}

void zero_bytes(void* destination, Device device, size_t nbytes) {
  if (nbytes == 0) return;
  if (device.is_cpu()) {
    std::memset(destination, 0, nbytes);
    return;
  }
#if WISP_WITH_CUDA
  cuda_runtime::zero(destination, nbytes, device.index);
#else
  no_cuda(device);
#endif
}

}  // namespace wisp
