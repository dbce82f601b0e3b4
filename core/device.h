// Where a tensor's storage lives.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace wisp {

enum class DeviceType : uint8_t { CPU, CUDA };

// Device::cpu() or Device::cuda(i), or by name: Device("cpu"), Device("cuda") (GPU 0),
// Device("cuda:1"). A tensor never changes device silently: ops require all their tensors on one
// device and say which two differ otherwise.
struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  Device() = default;  // the CPU
  Device(DeviceType device_type, int device_index = 0) : type(device_type), index(device_index) {}
  // The device named "cpu", "cuda" (GPU 0) or "cuda:N" (N a GPU index in decimal digits), as str()
  // writes it and PyTorch spells it; throws wisp::Error naming the accepted forms otherwise. Whether
  // the device exists is not checked here: using it says so.
  explicit Device(const std::string& name);
  explicit Device(const char* name) : Device(std::string(name)) {}

  static Device cpu() { return Device{DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return Device{DeviceType::CUDA, index}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;  // "cpu", "cuda:0"

  friend bool operator==(const Device& a, const Device& b) {
    return a.type == b.type && (a.type == DeviceType::CPU || a.index == b.index);
  }
  friend bool operator!=(const Device& a, const Device& b) { return !(a == b); }
};

std::ostream& operator<<(std::ostream& stream, const Device& device);

// Waits until all work queued on `device` has finished (a no-op on the CPU, whose kernels are
// synchronous). Benchmarks call it before reading the clock.
void synchronize(const Device& device);

namespace cuda {
// True when wisp was built with CUDA and at least one GPU is usable.
bool is_available();
// Number of usable GPUs (0 without CUDA support or without a GPU).
int device_count();
}  // namespace cuda

}  // namespace wisp
