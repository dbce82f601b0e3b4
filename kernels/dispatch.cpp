#include "kernels/dispatch.h"

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
  WISP_FAIL(op, ": no kernel for device ", device, " yet (the CUDA kernels are not part of this build); move the "
            "tensors to the CPU with .to(Device::cpu())");
}

}  // namespace wisp::kernels
