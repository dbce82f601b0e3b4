// Block-wide sums for the CUDA twins (include only from kernels/cuda/*.cu): every thread of a
// kThreadsPerBlock block passes its value; all get the block's total. A fixed shared-memory tree,
// so the result depends only on the values and their thread positions, never on timing.
#pragma once

#include "wisp/kernels/device_indexing.h"

namespace wisp::kernels::cuda {

// Outputs below which a reduction whose outputs each sum at least kThreadsPerBlock elements takes a
// block per output (with block_sum) instead of a thread per output: fewer outputs than this leave
// most of a GPU idle, each thread running a long serial sum. Used by sum_dim and sum_to_shape.
constexpr int64_t kBlockPerOutputBelow = 8192;

// `shared` holds kThreadsPerBlock values of T; callers reuse it between calls (the function
// synchronises before it returns and before it overwrites).
template <class T>
__device__ T block_sum(T value, T* shared) {
  __syncthreads();  // the previous call's readers are done with `shared`
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int half = kThreadsPerBlock / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  return shared[0];
}

}  // namespace wisp::kernels::cuda
