// The SparseLinear forward through cuSPARSE (cusparseSpMM over CSR, cusparseSpMV for one row), with
// the contract of our own CUDA kernel (kernels/cuda/sparse_linear.h), so that sparse_bench can time
// both on a GPU and check one against the other. A benchmark library (wisp_bench_cusparse), not part
// of wisp: the library's forward is its own kernel, and wisp neither links nor opens cuSPARSE.
//
// A plain C++ header (no CUDA headers); built only when WISP_WITH_CUDA. Every cuSPARSE status
// other than success becomes a wisp::Error naming the call and cuSPARSE's message
// (WISP_CUSPARSE_CHECK, cusparse.cu), except that a plan reports an algorithm/layout pair
// that cuSPARSE refuses (CUSPARSE_STATUS_NOT_SUPPORTED, or CUSPARSE_STATUS_INVALID_VALUE from a
// non-default algorithm's size query, preprocessing or first product) through supported() instead
// of throwing.
//
// The matrix is the SparseStructure's CSR half (row_pointers, column_indices; Int32 or Int64) with
// `values` [nnz] in (row, col) order: W [out, in], y = x · Wᵀ + bias.
#pragma once

#include <memory>
#include <string>

#include "wisp/core/tensor.h"
#include "wisp/kernels/sparse_linear.h"

namespace wisp::bench {

// cuSPARSE's algorithms for a CSR matrix times dense activations: the SpMM ones for any batch,
// the SpMV ones for a single row (a vector).
enum class CusparseAlgorithm {
  SpmmDefault,  // CUSPARSE_SPMM_ALG_DEFAULT
  SpmmCsr1,     // CUSPARSE_SPMM_CSR_ALG1
  SpmmCsr2,     // CUSPARSE_SPMM_CSR_ALG2
  SpmmCsr3,     // CUSPARSE_SPMM_CSR_ALG3
  SpmvDefault,  // CUSPARSE_SPMV_ALG_DEFAULT (one row only)
  SpmvCsr1,     // CUSPARSE_SPMV_CSR_ALG1 (one row only)
  SpmvCsr2,     // CUSPARSE_SPMV_CSR_ALG2 (one row only)
};
// "spmm_default", "spmm_csr_alg1", ..., "spmv_csr_alg2": cuSPARSE's names, lower case.
const char* name(CusparseAlgorithm algorithm);
bool is_spmv(CusparseAlgorithm algorithm);

// How the activations reach cuSPARSE.
enum class CusparseLayout {
  // x [rows, in] and y [rows, out] row-major, as the layer sees them: to cuSPARSE these are the
  // column-major matrices xᵀ [in, rows] and yᵀ [out, rows], so yᵀ = W · xᵀ needs no transposition.
  BatchMajor,
  // x feature-major (kernels::FeatureMajor, [in, stride]) as our own kernel takes it, read by cuSPARSE as a
  // row-major [in, rows] matrix; the product comes out feature-major [out, rows] and is transposed
  // into y [rows, out] with the bias added (one extra pass over y).
  FeatureMajor,
};
const char* name(CusparseLayout layout);

// One forward, set up once and run many times: the cuSPARSE descriptors, the work buffer and, for
// the algorithms that benefit (CSR_ALG1, CSR_ALG3), cusparseSpMM_preprocess, done on the first
// run. For a fixed batch size `rows`, algorithm and layout. It keeps `values` and `structure`
// (handles sharing their storage): the weights may change in place between runs, but not move.
class CusparseSparseLinearPlan {
 public:
  // values [nnz] float32 and structure on one GPU; rows >= 1 (an SpMV algorithm needs rows == 1).
  CusparseSparseLinearPlan(const Tensor& values, const SparseStructure& structure, int64_t rows,
                           CusparseAlgorithm algorithm, CusparseLayout layout);
  ~CusparseSparseLinearPlan();
  CusparseSparseLinearPlan(const CusparseSparseLinearPlan&) = delete;
  CusparseSparseLinearPlan& operator=(const CusparseSparseLinearPlan&) = delete;

  // False when cuSPARSE refused this algorithm and layout (see the top of this file; known after
  // construction); run() then throws. why_unsupported() gives cuSPARSE's message.
  bool supported() const;
  const std::string& why_unsupported() const;
  size_t workspace_bytes() const;

  // output [rows, out] = x · valuesᵀ + bias (bias [out] or undefined). `input` is x batch-major
  // [rows, in] for CusparseLayout::BatchMajor, or its kernels::FeatureMajor data [in, stride] (stride >= rows)
  // for CusparseLayout::FeatureMajor. Queued on the device's stream; does not synchronise.
  void run(const Tensor& input, const Tensor& bias, const Tensor& output);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The same as kernels/cuda/sparse_linear.h's sparse_linear_forward (same arguments, output
// [input.rows, out] preallocated) through cuSPARSE with a plan made for this one call.
void cusparse_sparse_linear_forward(const kernels::FeatureMajor& input, const Tensor& values,
                                    const SparseStructure& structure, const Tensor& bias, const Tensor& output,
                                    CusparseAlgorithm algorithm = CusparseAlgorithm::SpmmDefault);
// Batch-major input x [rows, in] (or a 1-D [in] as one row): returns y [rows, out] (or [out]).
Tensor cusparse_sparse_linear_forward(const Tensor& input, const Tensor& values, const SparseStructure& structure,
                                      const Tensor& bias, CusparseAlgorithm algorithm = CusparseAlgorithm::SpmmDefault);

}  // namespace wisp::bench
