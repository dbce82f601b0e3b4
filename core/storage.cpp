#include "wisp/core/storage.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "wisp/core/config.h"
#include "wisp/core/error.h"
#if WISP_WITH_CUDA
#include "wisp/core/cuda/runtime.h"
#endif

namespace wisp {
namespace {

constexpr size_t kCpuAlignment = 64;  // a cache line; also what AVX-512 loads would want

// Freed CPU blocks of at least kCacheFrom bytes are kept per exact size and reused. A training
// step allocates the same shapes every time; without the cache each large block would be a fresh
// mmap from glibc, zero-filled page by page by the kernel (measured: most of the system time of an
// MNIST epoch). Small blocks go straight to malloc, which already recycles them. The cache holds at
// most kCacheLimit bytes; beyond that, freed blocks go back to the system.
constexpr size_t kCacheFrom = size_t{64} << 10;
constexpr size_t kCacheLimit = size_t{2} << 30;

class CpuBlockCache {
 public:
  void* allocate(size_t rounded) {
    if (rounded >= kCacheFrom) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = free_blocks_.find(rounded);
      if (found != free_blocks_.end() && !found->second.empty()) {
        void* block = found->second.back();
        found->second.pop_back();
        cached_bytes_ -= rounded;
        return block;
      }
    }
    void* block = std::aligned_alloc(kCpuAlignment, rounded);
    if (block == nullptr && rounded >= kCacheFrom) {
      release_all();  // give cached blocks back and try once more
      block = std::aligned_alloc(kCpuAlignment, rounded);
    }
    return block;
  }

  void deallocate(void* block, size_t rounded) {
    if (rounded >= kCacheFrom) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_bytes_ + rounded <= kCacheLimit) {
        // Storage's destructor calls this: a cache that cannot grow frees the block instead of throwing.
        try {
          free_blocks_[rounded].push_back(block);
          cached_bytes_ += rounded;
          return;
        } catch (const std::bad_alloc&) {
        }
      }
    }
    std::free(block);
  }

  void release_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& entry : free_blocks_)
      for (void* block : entry.second) std::free(block);
    free_blocks_.clear();
    cached_bytes_ = 0;
  }

 private:
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_blocks_;
  size_t cached_bytes_ = 0;
};

CpuBlockCache& cpu_cache() {
  static CpuBlockCache* cache = new CpuBlockCache();  // never destroyed: tensors may die during exit
  return *cache;
}

// nbytes <= kMaxStorageBytes (Storage checks it), so the sum cannot wrap around.
size_t cpu_rounded_size(size_t nbytes) { return (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment; }

// Decimal digits of a count that may exceed 64 bits.
std::string decimal(unsigned __int128 value) {
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  } while (value != 0);
  return digits;
}

#if !WISP_WITH_CUDA
[[noreturn]] void no_cuda(Device device) {
  WISP_FAIL("wisp was built without CUDA support (nvcc was not found when CMake configured it), so ", device,
            " cannot be used; reconfigure with nvcc on PATH or -DWISP_CUDA=ON");
}
#endif

}  // namespace

size_t storage_bytes(const Shape& shape, DType dtype, const char* context) {
  const size_t elements = static_cast<size_t>(element_count(shape, context));
  const size_t element_bytes = element_size(dtype);
  size_t bytes = 0;
  if (__builtin_mul_overflow(elements, element_bytes, &bytes) || bytes > kMaxStorageBytes) {
    // The exact count, even where it exceeds size_t: elements < 2^63 and element_bytes <= 8.
    const unsigned __int128 needed = static_cast<unsigned __int128>(elements) * element_bytes;
    WISP_FAIL(context, ": shape ", shape, " of ", dtype, " needs ", decimal(needed),
              " bytes, but a tensor holds at most ", kMaxStorageBytes, " bytes");
  }
  return bytes;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (nbytes == 0) return;
  WISP_CHECK(nbytes <= kMaxStorageBytes, "Storage: cannot allocate ", nbytes, " bytes on ", device,
             ": a storage holds at most ", kMaxStorageBytes, " bytes");
  if (device.is_cpu()) {
    data_ = cpu_cache().allocate(cpu_rounded_size(nbytes));
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
    cpu_cache().deallocate(data_, cpu_rounded_size(nbytes_));
    return;
  }
#if WISP_WITH_CUDA
  cuda_runtime::deallocate(data_, nbytes_, device_.index);
#endif
}

void empty_cpu_cache() { cpu_cache().release_all(); }

void copy_bytes(void* destination, Device destination_device, const void* source, Device source_device, size_t nbytes) {
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
