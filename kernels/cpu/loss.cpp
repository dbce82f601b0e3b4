#include "wisp/kernels/cpu/loss.h"

#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/parallel.h"

#include <omp.h>

#include <cmath>
#include <limits>
#include <vector>

#include "wisp/kernels/loss_math.h"

namespace wisp::kernels::cpu {
namespace {

// The maximum of `count` values `stride` apart; NaNs are skipped here (they still reach the result
// through exp, which turns the whole row into NaN, as in PyTorch). -inf for an empty row.
inline float row_max(const float* values, int64_t count, int64_t stride) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t s = 0; s < count; ++s) {
    const float v = values[s * stride];
    max = v > max ? v : max;
  }
  return max;
}

}  // namespace

namespace {

// The forward of softmax and log-softmax: input, output [outer, size, inner] row-major, the softmax
// over `size`. Each row is summarised by its maximum and sum = Σ exp(x − max) (in double);
// summarise(sum) turns the sum into what element(x, max, summary) needs per element.
template <class Summarise, class Element>
void softmax_rows_forward(const Tensor& input, int64_t outer, int64_t size, int64_t inner, const Tensor& output,
                          Summarise summarise, Element element) {
  const float* x = pointer<float>(input);
  float* out = mutable_pointer<float>(output);
  const bool parallel = outer > 1 && outer * size * inner > kParallelThreshold;
  if (inner == 1) {
    // Contiguous rows (the common dim = -1 case).
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t o = 0; o < outer; ++o) {
      const float* row = x + o * size;
      float* out_row = out + o * size;
      const float max = row_max(row, size, 1);
      double sum = 0;
      for (int64_t s = 0; s < size; ++s) sum += static_cast<double>(expf(row[s] - max));
      const float summary = summarise(sum);
#pragma omp simd
      for (int64_t s = 0; s < size; ++s) out_row[s] = element(row[s], max, summary);
    }
    return;
  }
  // Strided: walk `size` in the outer loop so that reads stay contiguous along `inner`.
#pragma omp parallel if (parallel)
  {
    std::vector<float> max(static_cast<size_t>(inner));
    std::vector<double> sum(static_cast<size_t>(inner));
    std::vector<float> summary(static_cast<size_t>(inner));
#pragma omp for schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      const float* block = x + o * size * inner;
      float* out_block = out + o * size * inner;
      for (int64_t i = 0; i < inner; ++i) {
        max[static_cast<size_t>(i)] = -std::numeric_limits<float>::infinity();
        sum[static_cast<size_t>(i)] = 0;
      }
      for (int64_t s = 0; s < size; ++s)
        for (int64_t i = 0; i < inner; ++i) {
          const float v = block[s * inner + i];
          float& m = max[static_cast<size_t>(i)];
          m = v > m ? v : m;
        }
      for (int64_t s = 0; s < size; ++s)
        for (int64_t i = 0; i < inner; ++i)
          sum[static_cast<size_t>(i)] += static_cast<double>(expf(block[s * inner + i] - max[static_cast<size_t>(i)]));
      for (int64_t i = 0; i < inner; ++i) summary[static_cast<size_t>(i)] = summarise(sum[static_cast<size_t>(i)]);
      for (int64_t s = 0; s < size; ++s)
        for (int64_t i = 0; i < inner; ++i)
          out_block[s * inner + i] =
              element(block[s * inner + i], max[static_cast<size_t>(i)], summary[static_cast<size_t>(i)]);
    }
  }
}

// The backward of softmax and log-softmax: grad_output, output, grad_input [outer, size, inner]
// row-major. Per row, total = Σ_size term(g, y) in double; grad_input = element(g, y, total).
template <class Term, class Element>
void softmax_rows_backward(const Tensor& grad_output, const Tensor& output, int64_t outer, int64_t size, int64_t inner,
                           const Tensor& grad_input, Term term, Element element) {
  const float* g = pointer<float>(grad_output);
  const float* y = pointer<float>(output);
  float* dx = mutable_pointer<float>(grad_input);
  const bool parallel = outer > 1 && outer * size * inner > kParallelThreshold;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t o = 0; o < outer; ++o) {
      const float* g_row = g + o * size;
      const float* y_row = y + o * size;
      float* dx_row = dx + o * size;
      double sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int64_t s = 0; s < size; ++s) sum += static_cast<double>(term(g_row[s], y_row[s]));
      const float total = static_cast<float>(sum);
      for (int64_t s = 0; s < size; ++s) dx_row[s] = element(g_row[s], y_row[s], total);
    }
    return;
  }
#pragma omp parallel if (parallel)
  {
    std::vector<double> sum(static_cast<size_t>(inner));
#pragma omp for schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      const int64_t base = o * size * inner;
      for (int64_t i = 0; i < inner; ++i) sum[static_cast<size_t>(i)] = 0;
      for (int64_t s = 0; s < size; ++s)
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t k = base + s * inner + i;
          sum[static_cast<size_t>(i)] += static_cast<double>(term(g[k], y[k]));
        }
      for (int64_t s = 0; s < size; ++s)
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t k = base + s * inner + i;
          dx[k] = element(g[k], y[k], static_cast<float>(sum[static_cast<size_t>(i)]));
        }
    }
  }
}

}  // namespace

// input, output: [outer, size, inner] row-major; log-softmax over `size`.
void log_softmax_forward(const Tensor& input, int64_t outer, int64_t size, int64_t inner, const Tensor& output) {
  softmax_rows_forward(
      input, outer, size, inner, output, [](double sum) { return static_cast<float>(std::log(sum)); },
      [](float x, float max, float log_sum) { return log_softmax_element(x, max, log_sum); });
}

// grad_output, output, grad_input: [outer, size, inner] row-major; reduction over `size`.
void log_softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t outer, int64_t size, int64_t inner,
                          const Tensor& grad_input) {
  softmax_rows_backward(
      grad_output, output, outer, size, inner, grad_input, [](float g, float) { return g; },
      [](float g, float y, float sum_grad) { return log_softmax_grad_element(g, y, sum_grad); });
}

void softmax_forward(const Tensor& input, int64_t outer, int64_t size, int64_t inner, const Tensor& output) {
  softmax_rows_forward(
      input, outer, size, inner, output, [](double sum) { return static_cast<float>(sum); },
      [](float x, float max, float sum) { return softmax_element(x, max, sum); });
}

void softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t outer, int64_t size, int64_t inner,
                      const Tensor& grad_input) {
  softmax_rows_backward(
      grad_output, output, outer, size, inner, grad_input, [](float g, float y) { return static_cast<double>(g) * y; },
      [](float g, float y, float dot) { return softmax_grad_element(g, y, dot); });
}

// logits: [rows, classes] row-major; target: [rows] Int64; loss, max_logit, log_sum: [rows].
void cross_entropy_forward(const Tensor& logits, const Tensor& target, int64_t rows, int64_t classes,
                           const Tensor& loss, const Tensor& max_logit, const Tensor& log_sum) {
  const float* x = pointer<float>(logits);
  const int64_t* t = pointer<int64_t>(target);
  float* loss_out = mutable_pointer<float>(loss);
  float* max_out = mutable_pointer<float>(max_logit);
  float* log_sum_out = mutable_pointer<float>(log_sum);
  // Checked serially, before the parallel loop: an exception cannot leave an OpenMP region.
  for (int64_t n = 0; n < rows; ++n)
    WISP_CHECK(t[n] >= 0 && t[n] < classes, "cross_entropy: target ", t[n], " at index ", n, " is out of range [0, ",
               classes, ")");
#pragma omp parallel for schedule(static) if (rows > 1 && rows * classes > kParallelThreshold)
  for (int64_t n = 0; n < rows; ++n) {
    const float* row = x + n * classes;
    const float max = row_max(row, classes, 1);
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += static_cast<double>(expf(row[c] - max));
    const float row_log_sum = static_cast<float>(std::log(sum));
    max_out[n] = max;
    log_sum_out[n] = row_log_sum;
    loss_out[n] = -log_softmax_element(row[t[n]], max, row_log_sum);
  }
}

// logits, grad_logits: [rows, classes] row-major; target, max_logit, log_sum: [rows];
// grad_output: [rows] or one element.
void cross_entropy_backward(const Tensor& grad_output, const Tensor& logits, const Tensor& target,
                            const Tensor& max_logit, const Tensor& log_sum, double scale, int64_t rows, int64_t classes,
                            const Tensor& grad_logits) {
  const float* g = pointer<float>(grad_output);
  const int64_t grad_stride = grad_output.numel() == 1 ? 0 : 1;  // one gradient shared by all rows
  const float* x = pointer<float>(logits);
  const int64_t* t = pointer<int64_t>(target);
  const float* max_in = pointer<float>(max_logit);
  const float* log_sum_in = pointer<float>(log_sum);
  float* dx = mutable_pointer<float>(grad_logits);
#pragma omp parallel for schedule(static) if (rows > 1 && rows * classes > kParallelThreshold)
  for (int64_t n = 0; n < rows; ++n) {
    const float row_grad = static_cast<float>(static_cast<double>(g[n * grad_stride]) * scale);
    const float* row = x + n * classes;
    float* dx_row = dx + n * classes;
    for (int64_t c = 0; c < classes; ++c)
      dx_row[c] = cross_entropy_grad_element(row[c], max_in[n], log_sum_in[n], c == t[n], row_grad);
  }
}

// input, target, output: n elements.
void squared_error(const Tensor& input, const Tensor& target, const Tensor& output) {
  const float* x = pointer<float>(input);
  const float* y = pointer<float>(target);
  float* out = mutable_pointer<float>(output);
  const int64_t n = input.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) out[i] = kernels::squared_error(x[i], y[i]);
}

// input, target: n elements; output: one element.
void squared_error_sum(const Tensor& input, const Tensor& target, double scale, const Tensor& output) {
  const float* x = pointer<float>(input);
  const float* y = pointer<float>(target);
  const int64_t n = input.numel();
  const double total =
      deterministic_sum<double>(n, [&](int64_t i) { return static_cast<double>(kernels::squared_error(x[i], y[i])); });
  *mutable_pointer<float>(output) = static_cast<float>(total * scale);
}

// input, target, grad_input, grad_target: n elements; grad_output: n elements or one.
void squared_error_backward(const Tensor& grad_output, const Tensor& input, const Tensor& target, double scale,
                            const Tensor& grad_input, const Tensor& grad_target) {
  const float* g = pointer<float>(grad_output);
  const int64_t grad_stride = grad_output.numel() == 1 ? 0 : 1;
  const float* x = pointer<float>(input);
  const float* y = pointer<float>(target);
  float* dx = grad_input.defined() ? mutable_pointer<float>(grad_input) : nullptr;
  float* dy = grad_target.defined() ? mutable_pointer<float>(grad_target) : nullptr;
  const float scale_float = static_cast<float>(scale);
  const int64_t n = input.numel();
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    const float grad = squared_error_grad(x[i], y[i], g[i * grad_stride] * scale_float);
    if (dx) dx[i] = grad;
    if (dy) dy[i] = -grad;
  }
}

}  // namespace wisp::kernels::cpu
