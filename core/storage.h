// A block of device memory shared by a tensor and its views.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "wisp/core/device.h"
#include "wisp/core/dtype.h"
#include "wisp/core/shape.h"

namespace wisp {

// The largest block a Storage holds: PTRDIFF_MAX bytes. Pointer differences within a block must
// not overflow, and each allocator rounds sizes up (CPU: to 64 bytes, CUDA: to its size classes),
// which must not wrap around to a small block.
constexpr size_t kMaxStorageBytes = static_cast<size_t>(PTRDIFF_MAX);

// The bytes a tensor of `shape` and `dtype` needs; a wisp::Error naming `context` when a size is
// negative, the elements overflow int64, or the bytes exceed kMaxStorageBytes.
size_t storage_bytes(const Shape& shape, DType dtype, const char* context);

// Storage owns `nbytes` bytes on `device`, obtained from that device's allocator (CPU: 64-byte
// aligned, so Eigen and AVX loads are aligned, with large blocks cached for reuse; CUDA: the
// caching allocator). Non-copyable: tensors
// share it through std::shared_ptr<Storage>. Zero-byte storage has a null data pointer.
// Throws wisp::Error when nbytes exceeds kMaxStorageBytes or the device is out of memory.
class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  // How many in-place updates the storage has had (through Tensor's in-place methods, optimizers
  // and RigL; not writes through raw pointers). Autograd compares it with the count when an op
  // saved a tensor, so that a backward through changed values is an error instead of a silently
  // wrong gradient.
  // Atomic: backward passes on other threads read it while a leaf's gradient is bumped.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }
  // For a storage that replaces `previous` under the same tensor (Module::to moving it to another
  // device): counts on from previous's count.
  void continue_versions_of(const Storage& previous) { version_.store(previous.version(), std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> version_{0};
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
};

// Returns the CPU blocks that freed tensors left in wisp's allocator cache to the system. (Large
// CPU blocks are cached for reuse — at most 2 GiB — because training allocates the same sizes
// every step.)
void empty_cpu_cache();

// Copies `nbytes` from `source` (on `source_device`) to `destination` (on `destination_device`).
void copy_bytes(void* destination, Device destination_device, const void* source, Device source_device, size_t nbytes);

// Sets `nbytes` at `destination` on `device` to zero.
void zero_bytes(void* destination, Device device, size_t nbytes);

}  // namespace wisp
