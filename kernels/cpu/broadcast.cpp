#include "wisp/kernels/cpu/broadcast.h"

namespace wisp::kernels::cpu {

std::vector<int64_t> broadcast_strides(const Shape& operand, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  const size_t shift = out.size() - operand.size();
  int64_t stride = 1;
  for (int64_t d = static_cast<int64_t>(operand.size()) - 1; d >= 0; --d) {
    const int64_t size = operand[static_cast<size_t>(d)];
    strides[static_cast<size_t>(d) + shift] = size == 1 ? 0 : stride;
    stride *= size;
  }
  return strides;
}

}  // namespace wisp::kernels::cpu
