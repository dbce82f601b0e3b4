#include "wisp/core/device.h"

#include <ostream>

#include "wisp/core/config.h"
#include "wisp/core/error.h"
#if WISP_WITH_CUDA
#include "wisp/core/cuda/runtime.h"
#endif

namespace wisp {

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
