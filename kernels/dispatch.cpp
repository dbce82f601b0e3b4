#include "kernels/dispatch.h"

namespace wisp::kernels {

void unsupported_device(const char* op, const Device& device) {
  WISP_FAIL(op, ": no kernel for device ", device, " yet (the CUDA kernels are not part of this build); move the "
            "tensors to the CPU with .to(Device::cpu())");
}

}  // namespace wisp::kernels
