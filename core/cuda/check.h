// Status checks for CUDA and cuBLAS calls (include only from kernels/cuda/*.cu).
//
// Each macro throws wisp::Error with the failing call, file:line and the library's own error
// string; none exits the process. WISP_CUDA_CHECK_LAUNCH() follows every kernel launch.
#pragma once

#include <cuda_runtime.h>

#include "wisp/core/error.h"

#if __has_include(<cublas_v2.h>)
#include <cublas_v2.h>
#endif

#define WISP_CUDA_CHECK(call)                                                                                          \
  do {                                                                                                                 \
    const cudaError_t wisp_status_ = (call);                                                                           \
    if (wisp_status_ != cudaSuccess)                                                                                   \
      WISP_FAIL("CUDA error in ", #call, " at ", __FILE__, ":", __LINE__, ": ", cudaGetErrorName(wisp_status_), " (",  \
                cudaGetErrorString(wisp_status_), ")");                                                                \
  } while (0)

#define WISP_CUDA_CHECK_LAUNCH() WISP_CUDA_CHECK(cudaGetLastError())

#ifdef CUBLAS_V2_H_
#define WISP_CUBLAS_CHECK(call)                                                                                        \
  do {                                                                                                                 \
    const cublasStatus_t wisp_status_ = (call);                                                                        \
    if (wisp_status_ != CUBLAS_STATUS_SUCCESS)                                                                         \
      WISP_FAIL("cuBLAS error in ", #call, " at ", __FILE__, ":", __LINE__, ": ", cublasGetStatusName(wisp_status_),   \
                " (", cublasGetStatusString(wisp_status_), ")");                                                       \
  } while (0)
#endif
