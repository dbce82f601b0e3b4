// CUDA twins of softmax, log-softmax and the losses. One thread per softmax row ([outer, size, inner]: a row
// is (o, i) over s) or per cross-entropy sample, summing exp in double as the CPU twins do; the
// per-element arithmetic is kernels/loss_math.h's. Classifier rows are short (10 classes for MNIST),
// so a thread per row keeps the reductions in registers.
#include "wisp/kernels/cuda/loss.h"

#include <cmath>
#include <vector>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cuda/launch.h"
#include "wisp/kernels/cuda/reduce.h"
#include "wisp/kernels/loss_math.h"

namespace wisp::kernels::cuda {
namespace {

// The maximum of `count` values `stride` apart, NaN skipped (exp brings it back), -inf when empty.
__device__ inline float row_max(const float* values, int64_t count, int64_t stride) {
  float max = -INFINITY;
  for (int64_t s = 0; s < count; ++s) {
    const float v = values[s * stride];
    max = v > max ? v : max;
  }
  return max;
}

// x, y [outer, size, inner]: one thread per (o, i).
__global__ void log_softmax_forward_kernel(int64_t n, const float* x, int64_t size, int64_t inner, float* y) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) {
    const int64_t base = (j / inner) * size * inner + j % inner;
    const float max = row_max(x + base, size, inner);
    double sum = 0;
    for (int64_t s = 0; s < size; ++s) sum += static_cast<double>(expf(x[base + s * inner] - max));
    const float log_sum = static_cast<float>(log(sum));
    for (int64_t s = 0; s < size; ++s) y[base + s * inner] = log_softmax_element(x[base + s * inner], max, log_sum);
  }
}

__global__ void log_softmax_backward_kernel(int64_t n, const float* g, const float* y, int64_t size, int64_t inner,
                                            float* dx) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) {
    const int64_t base = (j / inner) * size * inner + j % inner;
    double sum = 0;
    for (int64_t s = 0; s < size; ++s) sum += static_cast<double>(g[base + s * inner]);
    const float sum_grad = static_cast<float>(sum);
    for (int64_t s = 0; s < size; ++s) {
      const int64_t k = base + s * inner;
      dx[k] = log_softmax_grad_element(g[k], y[k], sum_grad);
    }
  }
}

// x, y [outer, size, inner]: one thread per (o, i).
__global__ void softmax_forward_kernel(int64_t n, const float* x, int64_t size, int64_t inner, float* y) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) {
    const int64_t base = (j / inner) * size * inner + j % inner;
    const float max = row_max(x + base, size, inner);
    double sum = 0;
    for (int64_t s = 0; s < size; ++s) sum += static_cast<double>(expf(x[base + s * inner] - max));
    const float sum_float = static_cast<float>(sum);
    for (int64_t s = 0; s < size; ++s) y[base + s * inner] = softmax_element(x[base + s * inner], max, sum_float);
  }
}

__global__ void softmax_backward_kernel(int64_t n, const float* g, const float* y, int64_t size, int64_t inner,
                                        float* dx) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) {
    const int64_t base = (j / inner) * size * inner + j % inner;
    double dot = 0;
    for (int64_t s = 0; s < size; ++s) dot += static_cast<double>(g[base + s * inner]) * y[base + s * inner];
    const float dot_float = static_cast<float>(dot);
    for (int64_t s = 0; s < size; ++s) {
      const int64_t k = base + s * inner;
      dx[k] = softmax_grad_element(g[k], y[k], dot_float);
    }
  }
}

// logits [rows, classes], target [rows]: loss, max_logit, log_sum [rows], one thread per row.
__global__ void cross_entropy_forward_kernel(int64_t rows, const float* x, const int64_t* target, int64_t classes,
                                             float* loss, float* max_logit, float* log_sum) {
  for (int64_t n = grid_first(); n < rows; n += grid_step()) {
    const float* row = x + n * classes;
    const float max = row_max(row, classes, 1);
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += static_cast<double>(expf(row[c] - max));
    const float row_log_sum = static_cast<float>(log(sum));
    max_logit[n] = max;
    log_sum[n] = row_log_sum;
    loss[n] = -log_softmax_element(row[target[n]], max, row_log_sum);
  }
}

// grad_logits [rows, classes]; g has one element (grad_stride 0) or one per row.
__global__ void cross_entropy_backward_kernel(int64_t total, const float* g, int64_t grad_stride, const float* x,
                                              const int64_t* target, const float* max_logit, const float* log_sum,
                                              double scale, int64_t classes, float* dx) {
  for (int64_t k = grid_first(); k < total; k += grid_step()) {
    const int64_t n = k / classes, c = k % classes;
    const float row_grad = static_cast<float>(static_cast<double>(g[n * grad_stride]) * scale);
    dx[k] = cross_entropy_grad_element(x[k], max_logit[n], log_sum[n], c == target[n], row_grad);
  }
}

__global__ void squared_error_kernel(int64_t n, const float* x, const float* y, float* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) out[i] = kernels::squared_error(x[i], y[i]);
}

__global__ void squared_error_backward_kernel(int64_t n, const float* g, int64_t grad_stride, const float* x,
                                              const float* y, float scale, float* dx, float* dy) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) {
    const float grad = squared_error_grad(x[i], y[i], g[i * grad_stride] * scale);
    if (dx) dx[i] = grad;
    if (dy) dy[i] = -grad;
  }
}

}  // namespace

void log_softmax_forward(const Tensor& input, int64_t outer, int64_t size, int64_t inner, const Tensor& output) {
  const DeviceScope scope(input);
  launch(log_softmax_forward_kernel, outer * inner, pointer<float>(input), size, inner, mutable_pointer<float>(output));
}

void log_softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t outer, int64_t size, int64_t inner,
                          const Tensor& grad_input) {
  const DeviceScope scope(output);
  launch(log_softmax_backward_kernel, outer * inner, pointer<float>(grad_output), pointer<float>(output), size, inner,
         mutable_pointer<float>(grad_input));
}

void softmax_forward(const Tensor& input, int64_t outer, int64_t size, int64_t inner, const Tensor& output) {
  const DeviceScope scope(input);
  launch(softmax_forward_kernel, outer * inner, pointer<float>(input), size, inner, mutable_pointer<float>(output));
}

void softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t outer, int64_t size, int64_t inner,
                      const Tensor& grad_input) {
  const DeviceScope scope(output);
  launch(softmax_backward_kernel, outer * inner, pointer<float>(grad_output), pointer<float>(output), size, inner,
         mutable_pointer<float>(grad_input));
}

void cross_entropy_forward(const Tensor& logits, const Tensor& target, int64_t rows, int64_t classes,
                           const Tensor& loss, const Tensor& max_logit, const Tensor& log_sum) {
  // Targets are checked on the host, as the CPU twin does (rows × 8 bytes copied): an out-of-range
  // class would read outside the logits.
  const std::vector<int64_t> targets = target.to_vector<int64_t>();
  for (int64_t n = 0; n < rows; ++n)
    WISP_CHECK(targets[static_cast<size_t>(n)] >= 0 && targets[static_cast<size_t>(n)] < classes,
               "cross_entropy: target ", targets[static_cast<size_t>(n)], " at index ", n, " is out of range [0, ",
               classes, ")");
  const DeviceScope scope(logits);
  launch(cross_entropy_forward_kernel, rows, pointer<float>(logits), pointer<int64_t>(target), classes,
         mutable_pointer<float>(loss), mutable_pointer<float>(max_logit), mutable_pointer<float>(log_sum));
}

void cross_entropy_backward(const Tensor& grad_output, const Tensor& logits, const Tensor& target,
                            const Tensor& max_logit, const Tensor& log_sum, double scale, int64_t rows, int64_t classes,
                            const Tensor& grad_logits) {
  const DeviceScope scope(logits);
  launch(cross_entropy_backward_kernel, rows * classes, pointer<float>(grad_output),
         static_cast<int64_t>(grad_output.numel() == 1 ? 0 : 1), pointer<float>(logits), pointer<int64_t>(target),
         pointer<float>(max_logit), pointer<float>(log_sum), scale, classes, mutable_pointer<float>(grad_logits));
}

void squared_error(const Tensor& input, const Tensor& target, const Tensor& output) {
  const DeviceScope scope(input);
  launch(squared_error_kernel, input.numel(), pointer<float>(input), pointer<float>(target),
         mutable_pointer<float>(output));
}

void squared_error_sum(const Tensor& input, const Tensor& target, double scale, const Tensor& output) {
  const DeviceScope scope(input);
  // The squared errors, then their sum as sum_all computes it (double accumulation, fixed order).
  // The scratch tensor goes back to the caching allocator while the kernels may still run; every
  // launch is on the device's one default stream, so a later reuse of that memory runs after them.
  const Tensor errors = empty(input.shape(), TensorOptions(DType::Float32).device(input.device()));
  squared_error(input, target, errors);
  sum_all_scaled(errors, scale, output);
}

void squared_error_backward(const Tensor& grad_output, const Tensor& input, const Tensor& target, double scale,
                            const Tensor& grad_input, const Tensor& grad_target) {
  const DeviceScope scope(input);
  launch(squared_error_backward_kernel, input.numel(), pointer<float>(grad_output),
         static_cast<int64_t>(grad_output.numel() == 1 ? 0 : 1), pointer<float>(input), pointer<float>(target),
         static_cast<float>(scale), grad_input.defined() ? mutable_pointer<float>(grad_input) : nullptr,
         grad_target.defined() ? mutable_pointer<float>(grad_target) : nullptr);
}

}  // namespace wisp::kernels::cuda
