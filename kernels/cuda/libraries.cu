// cuBLAS, opened on first use instead of linked.
//
// Why: a linked library is loaded when the process starts, GPU or not, and cuBLAS (through
// cuBLASLt) initialises itself on load: 0.40 s and 210 MB of resident memory. Every process of a
// CUDA-enabled build paid that, CPU users and each test program included (measured with
// `/usr/bin/time -f "%e s %M KB"`: `mnist_train --help` 0.40 s / 214 MB against 0.00 s / 4.7 MB in a
// CPU-only build; an empty program linked with -lcublasLt alone: 211 MB).
//
// How: this file defines the cuBLAS functions wisp calls, with the signatures of the library's own
// header (the compiler checks each definition against the header's declaration). Each opens the
// library on its first call (dlopen, once, thread-safe), looks its own symbol up in that library
// (dlsym, once) and forwards the call. The callers (linear.cu, core/cuda/check.h) are plain cuBLAS
// code. dlsym with the library's handle searches that library only, so the lookup never finds these
// definitions themselves.
//
// The library is looked for by its soname (LD_LIBRARY_PATH, the executable's RUNPATH, ldconfig),
// then in the folder where wisp's build found it (the soname comes from the same file). When neither
// opens, the call throws wisp::Error naming the file and dlerror()'s reason.
//
// A function that wisp starts to call must be added here, or the link fails with an undefined
// reference to it (nothing links the library itself any more).
#include <cublas_v2.h>
#include <dlfcn.h>

#include <string>

#include "wisp/core/error.h"

#ifndef WISP_CUBLAS_SONAME
#error "WISP_CUBLAS_SONAME (e.g. \"libcublas.so.13\") is set by CMakeLists.txt"
#endif
#ifndef WISP_CUBLAS_DIR
#error "WISP_CUBLAS_DIR (where the build found cuBLAS) is set by CMakeLists.txt"
#endif

namespace wisp::cuda_libraries {
namespace {

// The handle of `soname`, opened by name and else from `directory`; `role` says in the error what it
// was needed for.
void* open_library(const char* soname, const char* directory, const char* role) {
  if (void* handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL)) return handle;
  const std::string by_name_error = dlerror();
  const std::string path = std::string(directory) + "/" + soname;
  if (void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) return handle;
  const std::string by_path_error = dlerror();
  WISP_FAIL("wisp could not load ", soname, ", which it needs for ", role, ": ", by_name_error, "; nor from ", path,
            ": ", by_path_error, ". Install the CUDA toolkit's libraries or add their folder to LD_LIBRARY_PATH.");
}

// A function-local static is initialised once even under concurrent first calls; when open_library
// throws, the next call tries again.
void* cublas_library() {
  static void* const handle = open_library(WISP_CUBLAS_SONAME, WISP_CUBLAS_DIR, "matrix products on the GPU (cuBLAS)");
  return handle;
}

template <class Function>
Function find_function(void* library, const char* symbol, const char* soname) {
  dlerror();  // clear a stale error, so that the one read below is this lookup's
  void* const address = dlsym(library, symbol);
  if (address == nullptr) {
    const char* reason = dlerror();
    WISP_FAIL("wisp found no ", symbol, " in ", soname, " (", reason ? reason : "null symbol",
              "): the library is older than the headers wisp was built with");
  }
  return reinterpret_cast<Function>(address);
}

}  // namespace
}  // namespace wisp::cuda_libraries

// The symbol name after the headers' macros (cublasSgemm -> cublasSgemm_v2).
#define WISP_SYMBOL_NAME(name) WISP_SYMBOL_NAME_TEXT(name)
#define WISP_SYMBOL_NAME_TEXT(name) #name

// The statements of a forwarding definition: cuBLAS's own `name`, found once, called with `arguments`.
#define WISP_CUBLAS(name, arguments)                                                                                   \
  static const auto function = wisp::cuda_libraries::find_function<decltype(&name)>(                                   \
      wisp::cuda_libraries::cublas_library(), WISP_SYMBOL_NAME(name), WISP_CUBLAS_SONAME);                             \
  return function arguments

extern "C" {

// kernels/cuda/linear.cu
cublasStatus_t cublasCreate(cublasHandle_t* handle) { WISP_CUBLAS(cublasCreate, (handle)); }

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  WISP_CUBLAS(cublasSetStream, (handle, stream));
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                           const float* beta, float* C, int ldc) {
  WISP_CUBLAS(cublasSgemm, (handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc));
}

// core/cuda/check.h (WISP_CUBLAS_CHECK)
const char* cublasGetStatusName(cublasStatus_t status) { WISP_CUBLAS(cublasGetStatusName, (status)); }

const char* cublasGetStatusString(cublasStatus_t status) { WISP_CUBLAS(cublasGetStatusString, (status)); }

}  // extern "C"
