// Small portability macros shared by CPU and CUDA code.
#pragma once

// Marks per-element arithmetic that CPU kernels and CUDA kernels share (DESIGN.md §5): compiled
// for both host and device under nvcc, plain inline C++ elsewhere.
#if defined(__CUDACC__)
#define WISP_HOST_DEVICE __host__ __device__
#else
#define WISP_HOST_DEVICE
#endif
