// cuBLAS and cuSPARSE, opened on first use instead of linked.
//
// Why: a linked library is loaded when the process starts, GPU or not, and cuBLAS (through
// cuBLASLt) initialises itself on load: 0.40 s and 210 MB of resident memory, cuSPARSE another
// 38 MB. Every process of a CUDA-enabled build paid that, CPU users and each test program included
// (measured with `/usr/bin/time -f "%e s %M KB"`: `mnist_train --help` 0.40 s / 214 MB against
// 0.00 s / 4.7 MB in a CPU-only build; an empty program linked with -lcublasLt alone: 211 MB).
//
// How: this file defines the cuBLAS and cuSPARSE functions wisp calls, with the signatures of the
// libraries' own headers (the compiler checks each definition against the header's declaration).
// Each opens its library on its first call (dlopen, once, thread-safe), looks its own symbol up in
// that library (dlsym, once) and forwards the call. The callers (linear.cu, cusparse.cu) are plain
// cuBLAS/cuSPARSE code. dlsym with the library's handle searches that library only, so the lookup
// never finds these definitions themselves.
//
// The library is looked for by its soname (LD_LIBRARY_PATH, the executable's RUNPATH, ldconfig),
// then in the folder where wisp's build found it (the sonames come from the same files). When neither opens, the call
// throws wisp::Error naming the file and dlerror()'s reason.
//
// A function that wisp starts to call must be added here, or the link fails with an undefined
// reference to it (nothing links the libraries themselves any more).
#include <cublas_v2.h>
#include <cusparse.h>
#include <dlfcn.h>

#include <string>

#include "wisp/core/error.h"

#ifndef WISP_CUBLAS_SONAME
#error "WISP_CUBLAS_SONAME (e.g. \"libcublas.so.13\") is set by CMakeLists.txt"
#endif
#ifndef WISP_CUSPARSE_SONAME
#error "WISP_CUSPARSE_SONAME (e.g. \"libcusparse.so.13\") is set by CMakeLists.txt"
#endif
#if !defined(WISP_CUBLAS_DIR) || !defined(WISP_CUSPARSE_DIR)
#error "WISP_CUBLAS_DIR and WISP_CUSPARSE_DIR (where the build found them) are set by CMakeLists.txt"
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
void* cusparse_library() {
  static void* const handle =
      open_library(WISP_CUSPARSE_SONAME, WISP_CUSPARSE_DIR, "the cuSPARSE SparseLinear forward");
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

// The body of a forwarding definition: the library's own `name`, found once, called with `arguments`.
#define WISP_FORWARD(library, soname, name, arguments)                                                                 \
  {                                                                                                                    \
    static const auto function = wisp::cuda_libraries::find_function<decltype(&name)>(wisp::cuda_libraries::library(), \
                                                                                      WISP_SYMBOL_NAME(name), soname); \
    return function arguments;                                                                                         \
  }
#define WISP_CUBLAS(name, arguments) WISP_FORWARD(cublas_library, WISP_CUBLAS_SONAME, name, arguments)
#define WISP_CUSPARSE(name, arguments) WISP_FORWARD(cusparse_library, WISP_CUSPARSE_SONAME, name, arguments)

extern "C" {

// ---- cuBLAS (kernels/cuda/linear.cu, core/cuda/check.h) ------------------------------------------------

cublasStatus_t cublasCreate(cublasHandle_t* handle) WISP_CUBLAS(cublasCreate, (handle))

    cublasStatus_t
    cublasSetStream(cublasHandle_t handle, cudaStream_t stream) WISP_CUBLAS(cublasSetStream, (handle, stream))

        cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                                   int n, int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                                   const float* beta, float* C, int ldc)
            WISP_CUBLAS(cublasSgemm, (handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc))

                const char* cublasGetStatusName(cublasStatus_t status) WISP_CUBLAS(cublasGetStatusName, (status))

                    const char* cublasGetStatusString(cublasStatus_t status)
                        WISP_CUBLAS(cublasGetStatusString, (status))

    // ---- cuSPARSE (kernels/cuda/cusparse.cu, core/cuda/check.h) ---------------------------------------------

    cusparseStatus_t cusparseCreate(cusparseHandle_t* handle) WISP_CUSPARSE(cusparseCreate, (handle))

        cusparseStatus_t
    cusparseSetStream(cusparseHandle_t handle, cudaStream_t stream) WISP_CUSPARSE(cusparseSetStream, (handle, stream))

        const char* cusparseGetErrorName(cusparseStatus_t status) WISP_CUSPARSE(cusparseGetErrorName, (status))

            const char* cusparseGetErrorString(cusparseStatus_t status) WISP_CUSPARSE(cusparseGetErrorString, (status))

                cusparseStatus_t
    cusparseCreateCsr(cusparseSpMatDescr_t* matrix, int64_t rows, int64_t cols, int64_t nnz, void* row_offsets,
                      void* column_indices, void* values, cusparseIndexType_t row_offsets_type,
                      cusparseIndexType_t column_indices_type, cusparseIndexBase_t index_base, cudaDataType value_type)
        WISP_CUSPARSE(cusparseCreateCsr, (matrix, rows, cols, nnz, row_offsets, column_indices, values,
                                          row_offsets_type, column_indices_type, index_base, value_type))

            cusparseStatus_t
    cusparseDestroySpMat(cusparseConstSpMatDescr_t matrix) WISP_CUSPARSE(cusparseDestroySpMat, (matrix))

        cusparseStatus_t cusparseCreateDnMat(cusparseDnMatDescr_t* matrix, int64_t rows, int64_t cols, int64_t leading,
                                             void* values, cudaDataType value_type, cusparseOrder_t order)
            WISP_CUSPARSE(cusparseCreateDnMat, (matrix, rows, cols, leading, values, value_type, order))

                cusparseStatus_t cusparseDestroyDnMat(cusparseConstDnMatDescr_t matrix)
                    WISP_CUSPARSE(cusparseDestroyDnMat, (matrix))

                        cusparseStatus_t cusparseDnMatSetValues(cusparseDnMatDescr_t matrix, void* values)
                            WISP_CUSPARSE(cusparseDnMatSetValues, (matrix, values))

                                cusparseStatus_t
    cusparseCreateDnVec(cusparseDnVecDescr_t* vector, int64_t size, void* values, cudaDataType value_type)
        WISP_CUSPARSE(cusparseCreateDnVec, (vector, size, values, value_type))

            cusparseStatus_t cusparseDestroyDnVec(cusparseConstDnVecDescr_t vector)
                WISP_CUSPARSE(cusparseDestroyDnVec, (vector))

                    cusparseStatus_t cusparseDnVecSetValues(cusparseDnVecDescr_t vector, void* values)
                        WISP_CUSPARSE(cusparseDnVecSetValues, (vector, values))

                            cusparseStatus_t
    cusparseSpMM_bufferSize(cusparseHandle_t handle, cusparseOperation_t op_a, cusparseOperation_t op_b,
                            const void* alpha, cusparseConstSpMatDescr_t a, cusparseConstDnMatDescr_t b,
                            const void* beta, cusparseDnMatDescr_t c, cudaDataType compute_type,
                            cusparseSpMMAlg_t algorithm, size_t* buffer_size)
        WISP_CUSPARSE(cusparseSpMM_bufferSize,
                      (handle, op_a, op_b, alpha, a, b, beta, c, compute_type, algorithm, buffer_size))

            cusparseStatus_t
    cusparseSpMM_preprocess(cusparseHandle_t handle, cusparseOperation_t op_a, cusparseOperation_t op_b,
                            const void* alpha, cusparseConstSpMatDescr_t a, cusparseConstDnMatDescr_t b,
                            const void* beta, cusparseDnMatDescr_t c, cudaDataType compute_type,
                            cusparseSpMMAlg_t algorithm, void* buffer)
        WISP_CUSPARSE(cusparseSpMM_preprocess,
                      (handle, op_a, op_b, alpha, a, b, beta, c, compute_type, algorithm, buffer))

            cusparseStatus_t
    cusparseSpMM(cusparseHandle_t handle, cusparseOperation_t op_a, cusparseOperation_t op_b, const void* alpha,
                 cusparseConstSpMatDescr_t a, cusparseConstDnMatDescr_t b, const void* beta, cusparseDnMatDescr_t c,
                 cudaDataType compute_type, cusparseSpMMAlg_t algorithm, void* buffer)
        WISP_CUSPARSE(cusparseSpMM, (handle, op_a, op_b, alpha, a, b, beta, c, compute_type, algorithm, buffer))

            cusparseStatus_t
    cusparseSpMV_bufferSize(cusparseHandle_t handle, cusparseOperation_t op_a, const void* alpha,
                            cusparseConstSpMatDescr_t a, cusparseConstDnVecDescr_t x, const void* beta,
                            cusparseDnVecDescr_t y, cudaDataType compute_type, cusparseSpMVAlg_t algorithm,
                            size_t* buffer_size)
        WISP_CUSPARSE(cusparseSpMV_bufferSize,
                      (handle, op_a, alpha, a, x, beta, y, compute_type, algorithm, buffer_size))

            cusparseStatus_t
    cusparseSpMV_preprocess(cusparseHandle_t handle, cusparseOperation_t op_a, const void* alpha,
                            cusparseConstSpMatDescr_t a, cusparseConstDnVecDescr_t x, const void* beta,
                            cusparseDnVecDescr_t y, cudaDataType compute_type, cusparseSpMVAlg_t algorithm,
                            void* buffer)
        WISP_CUSPARSE(cusparseSpMV_preprocess, (handle, op_a, alpha, a, x, beta, y, compute_type, algorithm, buffer))

            cusparseStatus_t
    cusparseSpMV(cusparseHandle_t handle, cusparseOperation_t op_a, const void* alpha, cusparseConstSpMatDescr_t a,
                 cusparseConstDnVecDescr_t x, const void* beta, cusparseDnVecDescr_t y, cudaDataType compute_type,
                 cusparseSpMVAlg_t algorithm, void* buffer)
        WISP_CUSPARSE(cusparseSpMV, (handle, op_a, alpha, a, x, beta, y, compute_type, algorithm, buffer))

}  // extern "C"
