#include "wisp/kernels/cpu/normalization.h"
#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/parallel.h"

#include <omp.h>

#include <memory>
#include <type_traits>

#include "wisp/kernels/normalization_math.h"

namespace wisp::kernels::cpu {
namespace {

// Calls function(std::true_type{}) or function(std::false_type{}), so that `value` is a
// compile-time constant inside the loops (no branch per element; the loops vectorise).
template <class Function>
void visit_bool(bool value, Function&& function) {
  if (value) {
    function(std::true_type{});
  } else {
    function(std::false_type{});
  }
}

// The loops over one row live in these functions, which take plain values: inside an OpenMP
// region the compiler would otherwise reach shared variables through a pointer and reload them
// on every iteration (the backward pass ran 5x slower that way).

// mean and rstd of one row: two passes in double (the mean, then the squared deviations from it),
// stable even when the mean is large next to the spread, where Σx² − (Σx)² would cancel.
inline void row_statistics(const float* row, int64_t features, double eps, float& mean, float& rstd) {
  const double inverse_features = features > 0 ? 1.0 / static_cast<double>(features) : 0.0;
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t f = 0; f < features; ++f) sum += static_cast<double>(row[f]);
  const double row_mean = sum * inverse_features;
  double squares = 0;
#pragma omp simd reduction(+ : squares)
  for (int64_t f = 0; f < features; ++f) {
    const double deviation = static_cast<double>(row[f]) - row_mean;
    squares += deviation * deviation;
  }
  mean = static_cast<float>(row_mean);
  rstd = layer_norm_rstd(squares * inverse_features, eps);
}

template <bool kHasWeight, bool kHasBias>
inline void normalize_row(const float* row, const float* weight, const float* bias, float mean, float rstd,
                          int64_t features, float* out) {
#pragma omp simd
  for (int64_t f = 0; f < features; ++f) {
    float scale = 1.0f, shift = 0.0f;
    if constexpr (kHasWeight) scale = weight[f];
    if constexpr (kHasBias) shift = bias[f];
    out[f] = layer_norm_output(row[f], mean, rstd, scale, shift);
  }
}

// dx of one row (normalization_math.h); the two row means of its formula are accumulated in double.
template <bool kHasWeight>
inline void grad_input_row(const float* g, const float* x, const float* weight, float mean, float rstd,
                           int64_t features, float* dx) {
  const double inverse_features = features > 0 ? 1.0 / static_cast<double>(features) : 0.0;
  double sum_grad = 0, sum_grad_dot = 0;
#pragma omp simd reduction(+ : sum_grad, sum_grad_dot)
  for (int64_t f = 0; f < features; ++f) {
    float grad_normalized = g[f];
    if constexpr (kHasWeight) grad_normalized *= weight[f];
    sum_grad += static_cast<double>(grad_normalized);
    sum_grad_dot += static_cast<double>(grad_normalized * layer_norm_normalized(x[f], mean, rstd));
  }
  const float mean_grad = static_cast<float>(sum_grad * inverse_features);
  const float mean_grad_dot = static_cast<float>(sum_grad_dot * inverse_features);
#pragma omp simd
  for (int64_t f = 0; f < features; ++f) {
    float grad_normalized = g[f];
    if constexpr (kHasWeight) grad_normalized *= weight[f];
    dx[f] =
        layer_norm_grad_input(grad_normalized, layer_norm_normalized(x[f], mean, rstd), rstd, mean_grad, mean_grad_dot);
  }
}

// Adds one row's g·x̂ into weight_partial and g into bias_partial (either may be null).
inline void accumulate_affine_grads_row(const float* g, const float* x, float mean, float rstd, int64_t features,
                                        float* weight_partial, float* bias_partial) {
  if (weight_partial && bias_partial) {
#pragma omp simd
    for (int64_t f = 0; f < features; ++f) {
      weight_partial[f] += g[f] * layer_norm_normalized(x[f], mean, rstd);
      bias_partial[f] += g[f];
    }
  } else if (weight_partial) {
#pragma omp simd
    for (int64_t f = 0; f < features; ++f) weight_partial[f] += g[f] * layer_norm_normalized(x[f], mean, rstd);
  } else if (bias_partial) {
#pragma omp simd
    for (int64_t f = 0; f < features; ++f) bias_partial[f] += g[f];
  }
}

}  // namespace

// x, output: [rows, features] row-major; weight, bias: [features] or undefined; mean, rstd: [rows].
void layer_norm_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, double eps, int64_t rows,
                        int64_t features, const Tensor& output, const Tensor& mean, const Tensor& rstd) {
  const float* x = pointer<float>(input);
  const float* w = weight.defined() ? pointer<float>(weight) : nullptr;
  const float* b = bias.defined() ? pointer<float>(bias) : nullptr;
  float* y = mutable_pointer<float>(output);
  float* mean_out = mutable_pointer<float>(mean);
  float* rstd_out = mutable_pointer<float>(rstd);
  visit_bool(w != nullptr, [&](auto has_weight) {
    visit_bool(b != nullptr, [&](auto has_bias) {
      constexpr bool kHasWeight = decltype(has_weight)::value;
      constexpr bool kHasBias = decltype(has_bias)::value;
#pragma omp parallel for schedule(static) if (rows > 1 && rows * features > kParallelThreshold)
      for (int64_t r = 0; r < rows; ++r) {
        float row_mean, row_rstd;
        row_statistics(x + r * features, features, eps, row_mean, row_rstd);
        mean_out[r] = row_mean;
        rstd_out[r] = row_rstd;
        normalize_row<kHasWeight, kHasBias>(x + r * features, w, b, row_mean, row_rstd, features, y + r * features);
      }
    });
  });
}

// grad_output, x, grad_input: [rows, features] row-major; mean, rstd: [rows];
// weight, grad_weight, grad_bias: [features] (each may be undefined).
void layer_norm_backward(const Tensor& grad_output, const Tensor& input, const Tensor& mean, const Tensor& rstd,
                         const Tensor& weight, int64_t rows, int64_t features, const Tensor& grad_input,
                         const Tensor& grad_weight, const Tensor& grad_bias) {
  const float* g = pointer<float>(grad_output);
  const float* x = pointer<float>(input);
  const float* mean_in = pointer<float>(mean);
  const float* rstd_in = pointer<float>(rstd);
  const float* w = weight.defined() ? pointer<float>(weight) : nullptr;
  float* dx = grad_input.defined() ? mutable_pointer<float>(grad_input) : nullptr;
  float* dw = grad_weight.defined() ? mutable_pointer<float>(grad_weight) : nullptr;
  float* db = grad_bias.defined() ? mutable_pointer<float>(grad_bias) : nullptr;

  // grad_weight and grad_bias sum over rows, which the threads share out: each thread adds its
  // rows into its own slice of these buffers, then the slices are summed in thread order (no
  // races, and the same result for the same thread count). Allocated before the parallel region,
  // where an allocation failure could not be thrown.
  const bool parallel = rows > 1 && rows * features > kParallelThreshold;
  const int64_t max_threads = parallel ? omp_get_max_threads() : 1;
  std::unique_ptr<float[]> weight_partials(dw ? new float[static_cast<size_t>(max_threads * features)] : nullptr);
  std::unique_ptr<float[]> bias_partials(db ? new float[static_cast<size_t>(max_threads * features)] : nullptr);

  visit_bool(w != nullptr, [&](auto has_weight) {
    constexpr bool kHasWeight = decltype(has_weight)::value;
#pragma omp parallel if (parallel)
    {
      const int64_t threads = omp_get_num_threads();
      const int64_t thread = omp_get_thread_num();
      float* my_weight_partial = dw ? weight_partials.get() + thread * features : nullptr;
      float* my_bias_partial = db ? bias_partials.get() + thread * features : nullptr;
      if (my_weight_partial)
        for (int64_t f = 0; f < features; ++f) my_weight_partial[f] = 0.0f;
      if (my_bias_partial)
        for (int64_t f = 0; f < features; ++f) my_bias_partial[f] = 0.0f;

#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        accumulate_affine_grads_row(g + r * features, x + r * features, mean_in[r], rstd_in[r], features,
                                    my_weight_partial, my_bias_partial);
        if (dx)
          grad_input_row<kHasWeight>(g + r * features, x + r * features, w, mean_in[r], rstd_in[r], features,
                                     dx + r * features);
      }
      // (implicit barrier: every partial is complete)

      if (dw || db) {
#pragma omp for schedule(static)
        for (int64_t f = 0; f < features; ++f) {
          float weight_total = 0.0f, bias_total = 0.0f;
          for (int64_t t = 0; t < threads; ++t) {
            if (dw) weight_total += weight_partials[static_cast<size_t>(t * features + f)];
            if (db) bias_total += bias_partials[static_cast<size_t>(t * features + f)];
          }
          if (dw) dw[f] = weight_total;
          if (db) db[f] = bias_total;
        }
      }
    }
  });
}

}  // namespace wisp::kernels::cpu
