#include "wisp/kernels/dispatch.h"

namespace wisp::kernels {

DimensionSplit split_at(const Shape& shape, int64_t dim) {
  DimensionSplit split;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    const int64_t size = shape[static_cast<size_t>(d)];
    if (d < dim) split.outer *= size;
    else if (d == dim) split.size = size;
    else split.inner *= size;
  }
  return split;
}

void unsupported_device(const char* op, const Device& device) {
#if WISP_WITH_CUDA
  WISP_FAIL(op, ": no kernel for device ", device,
            " yet (this op has no CUDA twin); move the tensors to the CPU "
            "with .to(Device::cpu())");
#else
  WISP_FAIL(op, ": no kernel for device ", device,
            " (this build has no CUDA kernels); move the tensors to the CPU "
            "with .to(Device::cpu())");
#endif
}

}  // namespace wisp::kernels
