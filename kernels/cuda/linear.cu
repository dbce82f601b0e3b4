// CUDA twins of the dense products: cuBLAS SGEMM (FP32 math: cuBLAS's default mode, no TF32, so
// results match the CPU to float rounding), plus two small kernels for the bias.
#include "wisp/kernels/cuda/linear.h"

#include <cublas_v2.h>

#include <mutex>
#include <vector>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cuda/launch.h"

namespace wisp::kernels::cuda {
namespace {

// The cuBLAS handle of the current device, on its stream (per_device_handle, launch.h).
cublasHandle_t handle_for_current_device() {
  return per_device_handle<cublasHandle_t>([](int device) {
    cublasHandle_t handle = nullptr;
    WISP_CUBLAS_CHECK(cublasCreate(&handle));
    WISP_CUBLAS_CHECK(cublasSetStream(handle, cuda_runtime::stream(device)));
    return handle;
  });
}

// The one place where row-major meets cuBLAS's column-major. Our row-major C [n, m] is, read
// column-major, Cᵀ [m, n]; so C = op(A) · op(B) is computed as Cᵀ = op(B)ᵀ · op(A)ᵀ. A row-major
// X [r, c] read column-major is Xᵀ [c, r] with leading dimension c: op(B)ᵀ is that view as is
// (CUBLAS_OP_N) when B is not transposed, and its transpose (CUBLAS_OP_T) when it is; the same for A.
// a: [n, k] (or [k, n] when transpose_a); b: [k, m] (or [m, k]); c: [n, m]; c = a·b + beta·c.
void gemm_row_major(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, const Tensor& c, float beta) {
  const int64_t n = c.size(0), m = c.size(1), k = transpose_a ? a.size(0) : a.size(1);
  if (n == 0 || m == 0) return;
  if (k == 0) {  // an empty sum: c = beta · c
    if (beta == 0.0f) zero_on_device(c.raw_data(), c.nbytes());
    return;
  }
  constexpr int64_t kIntMax = 2147483647;
  WISP_CHECK(n <= kIntMax && m <= kIntMax && k <= kIntMax && a.size(1) <= kIntMax && b.size(1) <= kIntMax,
             "cuBLAS GEMM: dimensions ", n, " x ", m, " x ", k, " exceed int32");
  const float alpha = 1.0f;
  WISP_CUBLAS_CHECK(cublasSgemm(handle_for_current_device(), transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(m), static_cast<int>(n),
                                static_cast<int>(k), &alpha, pointer<float>(b), static_cast<int>(b.size(1)),
                                pointer<float>(a), static_cast<int>(a.size(1)), &beta, mutable_pointer<float>(c),
                                static_cast<int>(m)));
}

// output [rows, columns] = bias [columns] in every row.
__global__ void broadcast_rows_kernel(int64_t n, const float* bias, int64_t columns, float* output) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) output[i] = bias[i % columns];
}

// sums [columns] = Σ_r values[r, columns], rows in order with a double accumulator: the CPU twin's
// column_sums (kernels/cpu/parallel.h) does the same additions in the same order.
__global__ void column_sums_kernel(int64_t columns, const float* values, int64_t rows, float* sums) {
  for (int64_t c = grid_first(); c < columns; c += grid_step()) {
    double total = 0.0;
    for (int64_t r = 0; r < rows; ++r) total += values[r * columns + c];
    sums[c] = static_cast<float>(total);
  }
}

}  // namespace

void matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, const Tensor& out) {
  const DeviceScope scope(out);
  gemm_row_major(a, transpose_a, b, transpose_b, out, 0.0f);
}

// input [rows, in], weight [out, in], bias [out] or undefined; output [rows, out] = input · weightᵀ
// + bias: the bias is written first and the GEMM accumulates onto it (beta = 1).
void linear_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& output) {
  const DeviceScope scope(output);
  if (bias.defined()) {
    launch(broadcast_rows_kernel, output.numel(), pointer<float>(bias), output.size(1), mutable_pointer<float>(output));
  }
  gemm_row_major(input, false, weight, true, output, bias.defined() ? 1.0f : 0.0f);
}

void linear_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight, const Tensor& grad_input,
                     const Tensor& grad_weight, const Tensor& grad_bias) {
  const DeviceScope scope(grad_output);
  if (grad_input.defined()) gemm_row_major(grad_output, false, weight, false, grad_input, 0.0f);
  if (grad_weight.defined()) gemm_row_major(grad_output, true, input, false, grad_weight, 0.0f);
  if (grad_bias.defined()) column_sums(grad_output, grad_bias);
}

void column_sums(const Tensor& values, const Tensor& sums) {
  const DeviceScope scope(values);
  launch(column_sums_kernel, values.size(1), pointer<float>(values), values.size(0), mutable_pointer<float>(sums));
}

}  // namespace wisp::kernels::cuda
