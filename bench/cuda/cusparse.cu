// The SparseLinear forward through cuSPARSE's generic API (bench/cuda/cusparse.h): W [out, in] as a
// CSR matrix (the SparseStructure's row pointers and column indices, `values` in (row, col) order)
// times the activations, C = W · B with
//   BatchMajor:   B = xᵀ [in, rows] and C = yᵀ [out, rows] column-major, which are x [rows, in] and
//                 y [rows, out] row-major: the output is written in place, the bias copied in first
//                 and accumulated onto (beta = 1);
//   FeatureMajor: B = x feature-major [in, stride] row-major (leading dimension stride, the first
//                 `rows` columns), C a feature-major scratch [out, rows] row-major, then one tiled
//                 transposition into y [rows, out] that adds the bias;
//   SpMV (rows == 1): x [in] and y [out] are vectors in both layouts, the bias copied into y first.
// Everything is queued on the values' GPU's one stream (cuda_runtime::stream: the cuSPARSE handle is
// bound to it, and the small kernels and memsets go through launch.h), as our own kernels are.
#include "wisp/bench/cuda/cusparse.h"

#include <cusparse.h>

#include <mutex>
#include <vector>

#include "wisp/core/error.h"
#include "wisp/core/factories.h"
#include "wisp/kernels/cuda/launch.h"
#include "wisp/kernels/cuda/transpose.h"

// Throws wisp::Error with the failing call, file:line and cuSPARSE's error name and string, as
// core/cuda/check.h's macros do for CUDA and cuBLAS.
#define WISP_CUSPARSE_CHECK(call)                                                                                      \
  do {                                                                                                                 \
    const cusparseStatus_t wisp_status_ = (call);                                                                      \
    if (wisp_status_ != CUSPARSE_STATUS_SUCCESS)                                                                       \
      WISP_FAIL("cuSPARSE error in ", #call, " at ", __FILE__, ":", __LINE__, ": ",                                    \
                cusparseGetErrorName(wisp_status_), " (", cusparseGetErrorString(wisp_status_), ")");                  \
  } while (0)

namespace wisp::bench {
// The helpers wisp's own CUDA kernels use (kernels/sparse_linear.h, kernels/cuda/launch.h, transpose.h).
using kernels::feature_major_stride;
using kernels::FeatureMajor;
using kernels::cuda::DeviceScope;
using kernels::cuda::launch;
using kernels::cuda::per_device_handle;
using kernels::cuda::transpose;
using kernels::cuda::zero_on_device;
namespace {

// The cuSPARSE handle of the current device, on its stream (per_device_handle, launch.h).
cusparseHandle_t handle_for_current_device() {
  return per_device_handle<cusparseHandle_t>([](int device) {
    cusparseHandle_t handle = nullptr;
    WISP_CUSPARSE_CHECK(cusparseCreate(&handle));
    WISP_CUSPARSE_CHECK(cusparseSetStream(handle, cuda_runtime::stream(device)));
    return handle;
  });
}

cusparseSpMMAlg_t spmm_algorithm(CusparseAlgorithm algorithm) {
  switch (algorithm) {
    case CusparseAlgorithm::SpmmDefault:
      return CUSPARSE_SPMM_ALG_DEFAULT;
    case CusparseAlgorithm::SpmmCsr1:
      return CUSPARSE_SPMM_CSR_ALG1;
    case CusparseAlgorithm::SpmmCsr2:
      return CUSPARSE_SPMM_CSR_ALG2;
    case CusparseAlgorithm::SpmmCsr3:
      return CUSPARSE_SPMM_CSR_ALG3;
    default:
      WISP_FAIL("cuSPARSE: ", name(algorithm), " is not an SpMM algorithm");
  }
}

cusparseSpMVAlg_t spmv_algorithm(CusparseAlgorithm algorithm) {
  switch (algorithm) {
    case CusparseAlgorithm::SpmvDefault:
      return CUSPARSE_SPMV_ALG_DEFAULT;
    case CusparseAlgorithm::SpmvCsr1:
      return CUSPARSE_SPMV_CSR_ALG1;
    case CusparseAlgorithm::SpmvCsr2:
      return CUSPARSE_SPMV_CSR_ALG2;
    default:
      WISP_FAIL("cuSPARSE: ", name(algorithm), " is not an SpMV algorithm");
  }
}

// output [rows, columns] = bias [columns] in every row.
__global__ void broadcast_rows_kernel(int64_t n, const float* bias, int64_t columns, float* output) {
  for (int64_t i = kernels::cuda::grid_first(); i < n; i += kernels::cuda::grid_step()) output[i] = bias[i % columns];
}

// CUSPARSE_STATUS_NOT_SUPPORTED is an answer, not a failure, when trying algorithms: false, with
// the call and cuSPARSE's message in `why`. So is CUSPARSE_STATUS_INVALID_VALUE when
// `invalid_value_refuses`: cuSPARSE has been seen to answer a non-default algorithm it does not
// support for a layout that way from *_bufferSize (NVIDIA/CUDALibrarySamples issue 97), and a
// benchmark that tries every algorithm must go on; a plan therefore accepts it from a non-default
// algorithm's size query, preprocessing and trial product alike (not yet seen on a GPU: none has
// run this code). Success is true; any other status throws as WISP_CUSPARSE_CHECK does.
bool supported_or_throw(cusparseStatus_t status, const char* call, const char* file, int line, std::string& why,
                        bool invalid_value_refuses) {
  if (status == CUSPARSE_STATUS_SUCCESS) return true;
  if (status == CUSPARSE_STATUS_NOT_SUPPORTED || (invalid_value_refuses && status == CUSPARSE_STATUS_INVALID_VALUE)) {
    why = detail::concat(call, ": ", cusparseGetErrorName(status), " (", cusparseGetErrorString(status), ")");
    return false;
  }
  WISP_FAIL("cuSPARSE error in ", call, " at ", file, ":", line, ": ", cusparseGetErrorName(status), " (",
            cusparseGetErrorString(status), ")");
}
// invalid_value_refuses: true while planning an algorithm that is not cuSPARSE's default.
#define WISP_CUSPARSE_SUPPORTED(call, why, invalid_value_refuses)                                                      \
  supported_or_throw((call), #call, __FILE__, __LINE__, why, invalid_value_refuses)
// Preprocessing is optional (cuSPARSE: it helps CSR_ALG1 and CSR_ALG3): NOT_SUPPORTED only means
// "none", true; otherwise as WISP_CUSPARSE_SUPPORTED.
#define WISP_CUSPARSE_PREPROCESSED(call, why, non_default)                                                             \
  [&](cusparseStatus_t status) {                                                                                       \
    return status == CUSPARSE_STATUS_NOT_SUPPORTED ||                                                                  \
           supported_or_throw(status, #call, __FILE__, __LINE__, why, non_default);                                    \
  }(call)

}  // namespace

const char* name(CusparseAlgorithm algorithm) {
  switch (algorithm) {
    case CusparseAlgorithm::SpmmDefault:
      return "spmm_default";
    case CusparseAlgorithm::SpmmCsr1:
      return "spmm_csr_alg1";
    case CusparseAlgorithm::SpmmCsr2:
      return "spmm_csr_alg2";
    case CusparseAlgorithm::SpmmCsr3:
      return "spmm_csr_alg3";
    case CusparseAlgorithm::SpmvDefault:
      return "spmv_default";
    case CusparseAlgorithm::SpmvCsr1:
      return "spmv_csr_alg1";
    case CusparseAlgorithm::SpmvCsr2:
      return "spmv_csr_alg2";
  }
  return "unknown";
}

bool is_spmv(CusparseAlgorithm algorithm) {
  return algorithm == CusparseAlgorithm::SpmvDefault || algorithm == CusparseAlgorithm::SpmvCsr1 ||
         algorithm == CusparseAlgorithm::SpmvCsr2;
}

namespace {
// cuSPARSE's default algorithm for its operation: the one a plan may not see refused.
bool is_default(CusparseAlgorithm algorithm) {
  return algorithm == CusparseAlgorithm::SpmmDefault || algorithm == CusparseAlgorithm::SpmvDefault;
}
}  // namespace

const char* name(CusparseLayout layout) {
  return layout == CusparseLayout::BatchMajor ? "batch_major" : "feature_major";
}

struct CusparseSparseLinearPlan::State {
  Tensor values;
  SparseStructure structure;
  int64_t rows = 0;
  CusparseAlgorithm algorithm = CusparseAlgorithm::SpmmDefault;
  CusparseLayout layout = CusparseLayout::BatchMajor;
  int64_t input_stride = 0;  // FeatureMajor: the stride the input must have
  bool supported = true;
  std::string why_unsupported;

  cusparseSpMatDescr_t matrix = nullptr;
  cusparseDnMatDescr_t dense_input = nullptr, dense_output = nullptr;    // SpMM
  cusparseDnVecDescr_t vector_input = nullptr, vector_output = nullptr;  // SpMV
  Tensor workspace;                                                      // cuSPARSE's external buffer (UInt8)
  Tensor feature_major_output;  // FeatureMajor SpMM: C [out, rows] before the transposition
  // beta of C = W · B + beta · C: 1 where the bias was copied into the output first, 0 otherwise.
  float beta = 1.0f;

  bool empty() const { return structure.nnz() == 0; }

  ~State() {
    // Destroy calls only free host memory; their status cannot be reported from a destructor.
    if (matrix != nullptr) cusparseDestroySpMat(matrix);
    if (dense_input != nullptr) cusparseDestroyDnMat(dense_input);
    if (dense_output != nullptr) cusparseDestroyDnMat(dense_output);
    if (vector_input != nullptr) cusparseDestroyDnVec(vector_input);
    if (vector_output != nullptr) cusparseDestroyDnVec(vector_output);
  }

  // Calls SpMV or SpMM with the descriptors as they are bound now; false when not supported.
  // `trial`: the plan's first product, where a non-default algorithm may also refuse with
  // INVALID_VALUE (see supported_or_throw); later runs of a supported plan throw on it.
  bool multiply(cusparseHandle_t handle, bool trial = false) {
    const float alpha = 1.0f;
    const bool refusal_allowed = trial && !is_default(algorithm);
    if (is_spmv(algorithm))
      return WISP_CUSPARSE_SUPPORTED(
          cusparseSpMV(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, matrix, vector_input, &beta, vector_output,
                       CUDA_R_32F, spmv_algorithm(algorithm), workspace.raw_data()),
          why_unsupported, refusal_allowed);
    return WISP_CUSPARSE_SUPPORTED(
        cusparseSpMM(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, matrix,
                     dense_input, &beta, dense_output, CUDA_R_32F, spmm_algorithm(algorithm), workspace.raw_data()),
        why_unsupported, refusal_allowed);
  }
};

CusparseSparseLinearPlan::CusparseSparseLinearPlan(const Tensor& values, const SparseStructure& structure, int64_t rows,
                                                   CusparseAlgorithm algorithm, CusparseLayout layout)
    : state_(std::make_unique<State>()) {
  constexpr const char* op = "cusparse_sparse_linear";
  WISP_CHECK(structure.defined(), op, ": expected a built SparseStructure but got an empty one");
  check_dtype(op, "values", values, DType::Float32);
  WISP_CHECK(values.is_cuda(), op, ": expected values on a CUDA device but got them on ", values.device());
  WISP_CHECK(structure.device() == values.device(), op, ": expected the structure on ", values.device(),
             " (the values' device) but got it on ", structure.device());
  WISP_CHECK(values.shape() == Shape{structure.nnz()}, op, ": expected values of shape ", Shape{structure.nnz()},
             " but got ", values.shape());
  WISP_CHECK(rows >= 1, op, ": expected at least 1 batch row but got ", rows);
  WISP_CHECK(!is_spmv(algorithm) || rows == 1, op, ": ", name(algorithm), " multiplies one row, but the batch has ",
             rows);
  State& s = *state_;
  const bool non_default = !is_default(algorithm);  // may be refused with INVALID_VALUE while planning
  s.values = values;
  s.structure = structure;
  s.rows = rows;
  s.algorithm = algorithm;
  s.layout = layout;
  s.input_stride = feature_major_stride(rows);
  if (s.empty()) return;  // no product: run() writes the bias (or zeros)

  const DeviceScope scope(values);
  const cusparseHandle_t handle = handle_for_current_device();
  // cuSPARSE reads one index type for pointers and columns: 16-bit column indices are widened.
  if (structure.column_indices.dtype() != structure.row_pointers.dtype())
    s.structure.column_indices = structure.column_indices.to(structure.row_pointers.dtype());
  const cusparseIndexType_t index_type =
      structure.row_pointers.dtype() == DType::Int32 ? CUSPARSE_INDEX_32I : CUSPARSE_INDEX_64I;
  const int64_t out = structure.out_features, in = structure.in_features;
  WISP_CUSPARSE_CHECK(cusparseCreateCsr(&s.matrix, out, in, structure.nnz(), structure.row_pointers.raw_data(),
                                        s.structure.column_indices.raw_data(), values.raw_data(), index_type,
                                        index_type, CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));

  // The descriptors are made on scratch activations of the run's shapes, so that the buffer size,
  // the preprocessing and one trial product (which finds out whether cuSPARSE supports this
  // algorithm and layout) happen here; run() then only rebinds the data pointers.
  const TensorOptions on_device = TensorOptions(DType::Float32).device(values.device());
  const float alpha = 1.0f;
  size_t workspace_bytes = 0;
  Tensor scratch_input, scratch_output = zeros({rows, out}, on_device);
  if (is_spmv(algorithm)) {
    scratch_input = zeros({in}, on_device);
    WISP_CUSPARSE_CHECK(cusparseCreateDnVec(&s.vector_input, in, scratch_input.raw_data(), CUDA_R_32F));
    WISP_CUSPARSE_CHECK(cusparseCreateDnVec(&s.vector_output, out, scratch_output.raw_data(), CUDA_R_32F));
    if (!WISP_CUSPARSE_SUPPORTED(
            cusparseSpMV_bufferSize(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, s.matrix, s.vector_input, &s.beta,
                                    s.vector_output, CUDA_R_32F, spmv_algorithm(algorithm), &workspace_bytes),
            s.why_unsupported, non_default)) {
      s.supported = false;
      return;
    }
  } else {
    if (layout == CusparseLayout::BatchMajor) {
      scratch_input = zeros({rows, in}, on_device);
      WISP_CUSPARSE_CHECK(
          cusparseCreateDnMat(&s.dense_input, in, rows, in, scratch_input.raw_data(), CUDA_R_32F, CUSPARSE_ORDER_COL));
      WISP_CUSPARSE_CHECK(cusparseCreateDnMat(&s.dense_output, out, rows, out, scratch_output.raw_data(), CUDA_R_32F,
                                              CUSPARSE_ORDER_COL));
    } else {
      s.beta = 0.0f;  // the bias is added by the transposition
      scratch_input = zeros({in, s.input_stride}, on_device);
      s.feature_major_output = zeros({out, rows}, on_device);
      WISP_CUSPARSE_CHECK(cusparseCreateDnMat(&s.dense_input, in, rows, s.input_stride, scratch_input.raw_data(),
                                              CUDA_R_32F, CUSPARSE_ORDER_ROW));
      WISP_CUSPARSE_CHECK(cusparseCreateDnMat(&s.dense_output, out, rows, rows, s.feature_major_output.raw_data(),
                                              CUDA_R_32F, CUSPARSE_ORDER_ROW));
    }
    if (!WISP_CUSPARSE_SUPPORTED(
            cusparseSpMM_bufferSize(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha,
                                    s.matrix, s.dense_input, &s.beta, s.dense_output, CUDA_R_32F,
                                    spmm_algorithm(algorithm), &workspace_bytes),
            s.why_unsupported, non_default)) {
      s.supported = false;
      return;
    }
  }
  // At least one byte, so that the buffer pointer is never null (some algorithms reject null).
  s.workspace = empty({static_cast<int64_t>(workspace_bytes) + 1}, TensorOptions(DType::UInt8).device(values.device()));

  // Preprocessing analyses the matrix once for the runs that follow (see WISP_CUSPARSE_PREPROCESSED).
  if (is_spmv(algorithm)) {
    s.supported = WISP_CUSPARSE_PREPROCESSED(
        cusparseSpMV_preprocess(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, s.matrix, s.vector_input, &s.beta,
                                s.vector_output, CUDA_R_32F, spmv_algorithm(algorithm), s.workspace.raw_data()),
        s.why_unsupported, non_default);
  } else if (algorithm == CusparseAlgorithm::SpmmCsr1 || algorithm == CusparseAlgorithm::SpmmCsr3) {
    s.supported = WISP_CUSPARSE_PREPROCESSED(
        cusparseSpMM_preprocess(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha,
                                s.matrix, s.dense_input, &s.beta, s.dense_output, CUDA_R_32F, spmm_algorithm(algorithm),
                                s.workspace.raw_data()),
        s.why_unsupported, non_default);
  }
  if (!s.supported) return;
  s.supported = s.multiply(handle, /*trial=*/true);
  // The scratch tensors go back to the caching allocator when this returns, while the trial product
  // may still be running: safe, since whatever reuses their memory is queued after it on the device's
  // one stream.
}

CusparseSparseLinearPlan::~CusparseSparseLinearPlan() = default;

bool CusparseSparseLinearPlan::supported() const { return state_->supported; }
const std::string& CusparseSparseLinearPlan::why_unsupported() const { return state_->why_unsupported; }
size_t CusparseSparseLinearPlan::workspace_bytes() const {
  return state_->workspace.defined() ? state_->workspace.nbytes() - 1 : 0;
}

void CusparseSparseLinearPlan::run(const Tensor& input, const Tensor& bias, const Tensor& output) {
  constexpr const char* op = "cusparse_sparse_linear";
  State& s = *state_;
  WISP_CHECK(s.supported, op, ": ", name(s.algorithm), " with ", name(s.layout),
             " activations is not supported by cuSPARSE (", s.why_unsupported, ")");
  const int64_t out = s.structure.out_features, in = s.structure.in_features;
  check_dtype(op, "input", input, DType::Float32);
  check_dtype(op, "output", output, DType::Float32);
  check_same_device(op, s.values, input);
  check_same_device(op, s.values, output);
  if (s.layout == CusparseLayout::BatchMajor) {
    WISP_CHECK(input.numel() == s.rows * in && input.size(-1) == in, op, ": expected a batch-major input of ", s.rows,
               " rows of ", in, " features but got shape ", input.shape());
  } else {
    const Shape expected{in, s.input_stride};
    WISP_CHECK(input.shape() == expected, op, ": expected a feature-major input of shape ", expected, " (", s.rows,
               " rows) but got ", input.shape());
  }
  WISP_CHECK(output.numel() == s.rows * out && output.size(-1) == out, op, ": expected an output of ", s.rows,
             " rows of ", out, " features but got shape ", output.shape());
  if (bias.defined()) {
    check_dtype(op, "bias", bias, DType::Float32);
    check_same_device(op, s.values, bias);
    WISP_CHECK(bias.shape() == Shape{out}, op, ": expected bias of shape ", Shape{out}, " but got ", bias.shape());
  }
  const DeviceScope scope(s.values);
  const auto* bias_data = bias.defined() ? static_cast<const float*>(bias.raw_data()) : nullptr;
  auto* output_data = static_cast<float*>(output.raw_data());
  const bool accumulates_onto_output = s.empty() || s.beta != 0.0f;
  if (accumulates_onto_output) {  // the output starts as the bias (or 0) and the product is added
    if (bias_data != nullptr) launch(broadcast_rows_kernel, s.rows * out, bias_data, out, output_data);
    else zero_on_device(output_data, output.nbytes());
  }
  if (s.empty()) return;

  const cusparseHandle_t handle = handle_for_current_device();
  if (is_spmv(s.algorithm)) {
    WISP_CUSPARSE_CHECK(cusparseDnVecSetValues(s.vector_input, input.raw_data()));
    WISP_CUSPARSE_CHECK(cusparseDnVecSetValues(s.vector_output, output_data));
  } else {
    WISP_CUSPARSE_CHECK(cusparseDnMatSetValues(s.dense_input, input.raw_data()));
    if (s.layout == CusparseLayout::BatchMajor)
      WISP_CUSPARSE_CHECK(cusparseDnMatSetValues(s.dense_output, output_data));
  }
  WISP_CHECK(s.multiply(handle), op, ": cuSPARSE refused ", name(s.algorithm), " (", s.why_unsupported, ")");
  if (!accumulates_onto_output) {
    // y [rows, out] = (feature-major product [out, rows])ᵀ + bias.
    transpose(static_cast<const float*>(s.feature_major_output.raw_data()), out, s.rows, bias_data, out, output_data);
  }
}

void cusparse_sparse_linear_forward(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                                    const Tensor& bias, const Tensor& output, CusparseAlgorithm algorithm) {
  if (input.rows == 0) return;
  CusparseSparseLinearPlan plan(values, structure, input.rows, algorithm, CusparseLayout::FeatureMajor);
  plan.run(input.data, bias, output);  // its buffers are freed in stream order (see the constructor)
}

Tensor cusparse_sparse_linear_forward(const Tensor& input, const Tensor& values, const SparseStructure& structure,
                                      const Tensor& bias, CusparseAlgorithm algorithm) {
  WISP_CHECK(input.dim() == 1 || input.dim() == 2,
             "cusparse_sparse_linear: expected a [in] or [rows, in] input but got shape ", input.shape());
  const int64_t rows = input.dim() == 1 ? 1 : input.size(0);
  Tensor output = input.dim() == 1
                      ? empty({structure.out_features}, TensorOptions(DType::Float32).device(input.device()))
                      : empty({rows, structure.out_features}, TensorOptions(DType::Float32).device(input.device()));
  if (rows == 0) return output;
  CusparseSparseLinearPlan plan(values, structure, rows, algorithm, CusparseLayout::BatchMajor);
  plan.run(input, bias, output);
  return output;
}

}  // namespace wisp::bench
