// The CUDA device-memory runtime that core/ builds on: device queries, the caching allocator,
// copies and synchronisation. A plain C++ header (no CUDA headers), so that core/ can call it;
// only kernels/cuda/*.cu include the CUDA toolkit. Compiled only when WISP_WITH_CUDA.
//
// Every CUDA error becomes a wisp::Error naming the call, the file and line, and CUDA's message.
#pragma once

#include <cstddef>

namespace wisp::cuda_runtime {

// Usable GPUs; 0 when there is no driver or no device (never throws).
int device_count();

// `nbytes` of memory on GPU `device` from the caching allocator: freed blocks are kept per
// device and size class and reused, so a training step does not call cudaMalloc.
void* allocate(size_t nbytes, int device);
void deallocate(void* pointer, size_t nbytes, int device);
// Returns cached blocks to the driver (cudaFree); called when an allocation fails before retrying.
void empty_cache();

// Copies `nbytes`; a device index of -1 means host memory. Synchronous with respect to the host.
void copy(void* destination, int destination_device, const void* source, int source_device, size_t nbytes);
void zero(void* destination, size_t nbytes, int device);
void synchronize(int device);

}  // namespace wisp::cuda_runtime
