// Helpers for the dispatch points (kernels/*.cpp): pick the twin for a tensor's device.
#pragma once

#include "wisp/core/config.h"
#include "wisp/core/tensor.h"
#include "wisp/core/threading.h"

namespace wisp::kernels {

// A row-major shape seen around dimension `dim` as [outer, size, inner]: outer = product of the
// sizes before dim, inner = after it. A 0-dimensional shape is one row of one element. Reductions,
// softmax and concatenation kernels take this view.
struct DimensionSplit {
  int64_t outer = 1, size = 1, inner = 1;
};
DimensionSplit split_at(const Shape& shape, int64_t dim);

// Thrown by a dispatch point for a device it has no twin for (a CUDA tensor in a build without the
// CUDA backend, or an op added without its CUDA twin); names the op and the device.
[[noreturn]] void unsupported_device(const char* op, const Device& device);

// Calls cpu_twin() for CPU tensors; unsupported_device() otherwise. `first` decides the device;
// callers have already checked that all operands share it. For an op that is CPU-only by design
// (none today: every dispatch point passes a CUDA twin).
template <class CpuTwin>
void dispatch(const char* op, const Tensor& first, CpuTwin cpu_twin) {
  if (first.is_cpu()) {
    wisp::detail::use_num_threads();  // the process's thread count (set_num_threads, else the default)
    cpu_twin();
    return;
  }
  unsupported_device(op, first.device());
}

// The same with a CUDA twin, called for CUDA tensors in builds with the CUDA backend. Write the
// twin as WISP_CUDA_TWIN(call): it expands to a lambda making the call when WISP_WITH_CUDA, and to
// an empty lambda otherwise, so that CPU-only builds never reference kernels/cuda symbols.
template <class CpuTwin, class CudaTwin>
void dispatch(const char* op, const Tensor& first, CpuTwin cpu_twin, CudaTwin cuda_twin) {
  if (first.is_cpu()) {
    wisp::detail::use_num_threads();  // the process's thread count (set_num_threads, else the default)
    cpu_twin();
    return;
  }
#if WISP_WITH_CUDA
  if (first.is_cuda()) {
    cuda_twin();
    return;
  }
#else
  (void)cuda_twin;
#endif
  unsupported_device(op, first.device());
}

#if WISP_WITH_CUDA
#define WISP_CUDA_TWIN(...) [&] { __VA_ARGS__; }
#else
#define WISP_CUDA_TWIN(...) [] {}
#endif

}  // namespace wisp::kernels
