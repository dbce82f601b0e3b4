#include "wisp/core/device.h"

#include <ostream>

#include "wisp/core/config.h"
#include "wisp/core/error.h"
#if WISP_WITH_CUDA
#include "wisp/core/cuda/runtime.h"
#endif

namespace wisp {

Device::Device(const std::string& name) {
  const std::string cuda_prefix = "cuda:";
  if (name == "cpu") return;
  type = DeviceType::CUDA;
  if (name == "cuda") return;
  if (name.size() > cuda_prefix.size() && name.compare(0, cuda_prefix.size(), cuda_prefix) == 0) {
    const std::string digits = name.substr(cuda_prefix.size());
    // At most 9 digits: every such index fits an int, and GPU indices are small anyway.
    if (digits.size() <= 9 && digits.find_first_not_of("0123456789") == std::string::npos) {
      index = std::stoi(digits);
      return;
    }
  }
  WISP_FAIL("invalid device name '", name, "': expected cpu, cuda or cuda:N (N a GPU index)");
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

std::ostream& operator<<(std::ostream& stream, const Device& device) { return stream << device.str(); }

void synchronize(const Device& device) {
  if (device.is_cpu()) return;
#if WISP_WITH_CUDA
  cuda_runtime::synchronize(device.index);
#else
  WISP_FAIL("synchronize: wisp was built without CUDA support, so device ", device, " does not exist");
#endif
}

namespace cuda {
bool is_available() { return device_count() > 0; }

int device_count() {
#if WISP_WITH_CUDA
  return cuda_runtime::device_count();
#else
  return 0;
#endif
}
}  // namespace cuda

}  // namespace wisp
