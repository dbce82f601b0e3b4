// CUDA twins of layer normalisation. Rows are independent: one block per row, its statistics summed
// in double by block_sum (as the CPU twin sums in double), the per-element arithmetic from
// kernels/normalization_math.h. The weight and bias gradients sum over rows: one thread per feature,
// rows in order.
#include "wisp/kernels/cuda/normalization.h"

#include "wisp/kernels/access.h"
#include "wisp/kernels/cuda/block_reduce.h"
#include "wisp/kernels/cuda/launch.h"
#include "wisp/kernels/normalization_math.h"

namespace wisp::kernels::cuda {
namespace {

// One block per row r of x [rows, features]: mean[r], rstd[r] and y[r, :]. weight/bias may be null.
__global__ void layer_norm_forward_kernel(const float* x, const float* weight, const float* bias, double eps,
                                          int64_t features, float* y, float* mean, float* rstd) {
  __shared__ double shared[kThreadsPerBlock];
  const int64_t r = blockIdx.x;
  const float* row = x + r * features;
  const double inverse_features = features > 0 ? 1.0 / static_cast<double>(features) : 0.0;
  double sum = 0;
  for (int64_t f = threadIdx.x; f < features; f += blockDim.x) sum += static_cast<double>(row[f]);
  const double row_mean = block_sum(sum, shared) * inverse_features;
  double squares = 0;
  for (int64_t f = threadIdx.x; f < features; f += blockDim.x) {
    const double deviation = static_cast<double>(row[f]) - row_mean;
    squares += deviation * deviation;
  }
  const float row_rstd = layer_norm_rstd(block_sum(squares, shared) * inverse_features, eps);
  const float mean_value = static_cast<float>(row_mean);
  if (threadIdx.x == 0) {
    mean[r] = mean_value;
    rstd[r] = row_rstd;
  }
  for (int64_t f = threadIdx.x; f < features; f += blockDim.x) {
    y[r * features + f] =
        layer_norm_output(row[f], mean_value, row_rstd, weight ? weight[f] : 1.0f, bias ? bias[f] : 0.0f);
  }
}

// One block per row: dx[r, :] from g, x, the saved statistics and the weight (or null).
__global__ void layer_norm_grad_input_kernel(const float* g, const float* x, const float* mean, const float* rstd,
                                             const float* weight, int64_t features, float* dx) {
  __shared__ double shared[kThreadsPerBlock];
  const int64_t r = blockIdx.x;
  const float* g_row = g + r * features;
  const float* x_row = x + r * features;
  const float row_mean = mean[r], row_rstd = rstd[r];
  const double inverse_features = features > 0 ? 1.0 / static_cast<double>(features) : 0.0;
  double sum_grad = 0, sum_grad_dot = 0;
  for (int64_t f = threadIdx.x; f < features; f += blockDim.x) {
    const float grad_normalized = weight ? g_row[f] * weight[f] : g_row[f];
    sum_grad += static_cast<double>(grad_normalized);
    sum_grad_dot += static_cast<double>(grad_normalized * layer_norm_normalized(x_row[f], row_mean, row_rstd));
  }
  const float mean_grad = static_cast<float>(block_sum(sum_grad, shared) * inverse_features);
  const float mean_grad_dot = static_cast<float>(block_sum(sum_grad_dot, shared) * inverse_features);
  for (int64_t f = threadIdx.x; f < features; f += blockDim.x) {
    const float grad_normalized = weight ? g_row[f] * weight[f] : g_row[f];
    dx[r * features + f] = layer_norm_grad_input(grad_normalized, layer_norm_normalized(x_row[f], row_mean, row_rstd),
                                                 row_rstd, mean_grad, mean_grad_dot);
  }
}

// One thread per feature f: dw[f] = Σ_r g[r, f] · x̂[r, f], db[f] = Σ_r g[r, f] (either may be null).
__global__ void layer_norm_affine_grads_kernel(int64_t features, const float* g, const float* x, const float* mean,
                                               const float* rstd, int64_t rows, float* dw, float* db) {
  for (int64_t f = grid_first(); f < features; f += grid_step()) {
    float weight_total = 0.0f, bias_total = 0.0f;
    for (int64_t r = 0; r < rows; ++r) {
      const float gradient = g[r * features + f];
      weight_total += gradient * layer_norm_normalized(x[r * features + f], mean[r], rstd[r]);
      bias_total += gradient;
    }
    if (dw) dw[f] = weight_total;
    if (db) db[f] = bias_total;
  }
}

template <class T>
const T* optional_pointer(const Tensor& t) {
  return t.defined() ? pointer<T>(t) : nullptr;
}
template <class T>
T* optional_mutable_pointer(const Tensor& t) {
  return t.defined() ? mutable_pointer<T>(t) : nullptr;
}

}  // namespace

void layer_norm_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, double eps, int64_t rows,
                        int64_t features, const Tensor& output, const Tensor& mean, const Tensor& rstd) {
  if (rows == 0) return;
  const DeviceScope scope(input);
  WISP_CHECK(rows <= 2147483647, "layer_norm on CUDA: at most 2^31 - 1 rows (one block each) but got ", rows);
  launch_blocks(layer_norm_forward_kernel, dim3(static_cast<unsigned>(rows)), dim3(kThreadsPerBlock),
                pointer<float>(input), optional_pointer<float>(weight), optional_pointer<float>(bias), eps, features,
                mutable_pointer<float>(output), mutable_pointer<float>(mean), mutable_pointer<float>(rstd));
}

void layer_norm_backward(const Tensor& grad_output, const Tensor& input, const Tensor& mean, const Tensor& rstd,
                         const Tensor& weight, int64_t rows, int64_t features, const Tensor& grad_input,
                         const Tensor& grad_weight, const Tensor& grad_bias) {
  const DeviceScope scope(input);
  if (grad_input.defined() && rows > 0) {
    WISP_CHECK(rows <= 2147483647, "layer_norm backward on CUDA: at most 2^31 - 1 rows but got ", rows);
    launch_blocks(layer_norm_grad_input_kernel, dim3(static_cast<unsigned>(rows)), dim3(kThreadsPerBlock),
                  pointer<float>(grad_output), pointer<float>(input), pointer<float>(mean), pointer<float>(rstd),
                  optional_pointer<float>(weight), features, mutable_pointer<float>(grad_input));
  }
  if (grad_weight.defined() || grad_bias.defined()) {
    launch(layer_norm_affine_grads_kernel, features, pointer<float>(grad_output), pointer<float>(input),
           pointer<float>(mean), pointer<float>(rstd), rows, optional_mutable_pointer<float>(grad_weight),
           optional_mutable_pointer<float>(grad_bias));
  }
}

}  // namespace wisp::kernels::cuda
