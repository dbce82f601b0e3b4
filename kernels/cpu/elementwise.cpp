#include "wisp/kernels/cpu/elementwise.h"

#include <type_traits>
#include <vector>

#include "wisp/kernels/access.h"
#include "wisp/kernels/bfloat16_math.h"
#include "wisp/kernels/cpu/broadcast.h"
#include "wisp/kernels/cpu/parallel.h"

namespace wisp::kernels::cpu {
namespace {

template <class T, class Combine>
void broadcast_loop(const Tensor& a, const Tensor& b, const Tensor& out, Combine combine) {
  const T* pa = pointer<T>(a);
  const T* pb = pointer<T>(b);
  const int64_t n = out.numel();
  if (a.shape() == out.shape() && b.shape() == out.shape()) {
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) combine(i, pa[i], pb[i]);
    return;
  }
  if (a.shape() == out.shape() && b.numel() == 1) {
    const T scalar = pb[0];
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) combine(i, pa[i], scalar);
    return;
  }
  for_each_broadcast_row(
      a.shape(), b.shape(), out.shape(),
      [&](int64_t out_offset, int64_t a_offset, int64_t b_offset, int64_t length, int64_t a_step, int64_t b_step) {
        for (int64_t k = 0; k < length; ++k)
          combine(out_offset + k, pa[a_offset + k * a_step], pb[b_offset + k * b_step]);
      });
}

}  // namespace

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = mutable_pointer<T>(out);
    visit_binary_op(op, [&](auto op_constant) {
      broadcast_loop<T>(a, b, out,
                        [po](int64_t i, T x, T y) { po[i] = apply_binary<T>(decltype(op_constant)::value, x, y); });
    });
  });
}

void binary_scalar(BinaryOp op, const Tensor& a, double scalar, bool scalar_first, const Tensor& out) {
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = pointer<T>(a);
    T* po = mutable_pointer<T>(out);
    const T s = static_cast<T>(scalar);
    const int64_t n = out.numel();
    visit_binary_op(op, [&](auto op_constant) {
      constexpr BinaryOp kOp = decltype(op_constant)::value;
      if (scalar_first) {
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
        for (int64_t i = 0; i < n; ++i) po[i] = apply_binary<T>(kOp, s, pa[i]);
      } else {
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
        for (int64_t i = 0; i < n; ++i) po[i] = apply_binary<T>(kOp, pa[i], s);
      }
    });
  });
}

void unary(UnaryOp op, const Tensor& a, const Tensor& out) {
  const float* pa = pointer<float>(a);
  float* po = mutable_pointer<float>(out);
  const int64_t n = out.numel();
  visit_unary_op(op, [&](auto op_constant) {
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) po[i] = apply_unary(decltype(op_constant)::value, pa[i]);
  });
}

void unary_backward(UnaryOp op, const Tensor& grad_output, const Tensor& saved, const Tensor& grad_input) {
  const float* pg = pointer<float>(grad_output);
  const float* ps = pointer<float>(saved);
  float* po = mutable_pointer<float>(grad_input);
  const int64_t n = grad_input.numel();
  visit_unary_op(op, [&](auto op_constant) {
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) po[i] = unary_backward_element(decltype(op_constant)::value, pg[i], ps[i]);
  });
}

void relu_backward(const Tensor& grad_output, const Tensor& input, const Tensor& grad_input) {
  const float* pg = pointer<float>(grad_output);
  const float* px = pointer<float>(input);
  float* po = mutable_pointer<float>(grad_input);
  const int64_t n = grad_input.numel();
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) po[i] = relu_backward_element(pg[i], px[i]);
}

void compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  uint8_t* po = mutable_pointer<uint8_t>(out);
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    visit_compare_op(op, [&](auto op_constant) {
      broadcast_loop<T>(a, b, out, [po](int64_t i, T x, T y) {
        po[i] = apply_compare<T>(decltype(op_constant)::value, x, y) ? 1 : 0;
      });
    });
  });
}

void compare_scalar(CompareOp op, const Tensor& a, double scalar, const Tensor& out) {
  uint8_t* po = mutable_pointer<uint8_t>(out);
  const int64_t n = out.numel();
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = pointer<T>(a);
    const T s = static_cast<T>(scalar);
    visit_compare_op(op, [&](auto op_constant) {
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
      for (int64_t i = 0; i < n; ++i) po[i] = apply_compare<T>(decltype(op_constant)::value, pa[i], s) ? 1 : 0;
    });
  });
}

void where(const Tensor& condition, const Tensor& a, const Tensor& b, const Tensor& out) {
  const uint8_t* pc = pointer<uint8_t>(condition);
  const int64_t n = out.numel();
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = pointer<T>(a);
    const T* pb = pointer<T>(b);
    T* po = mutable_pointer<T>(out);
    if (condition.shape() == out.shape() && a.shape() == out.shape() && b.shape() == out.shape()) {
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
      for (int64_t i = 0; i < n; ++i) po[i] = pc[i] ? pa[i] : pb[i];
      return;
    }
    // Broadcast: rows of the last dimension, each operand's row found once (as for_each_broadcast_row).
    const Shape& shape = out.shape();
    const int64_t length = shape.empty() ? 1 : shape.back();
    const int64_t rows = length == 0 ? 0 : n / length;
    const std::vector<int64_t> c_strides = broadcast_strides(condition.shape(), shape),
                               a_strides = broadcast_strides(a.shape(), shape),
                               b_strides = broadcast_strides(b.shape(), shape);
    const int64_t c_step = shape.empty() ? 0 : c_strides.back(), a_step = shape.empty() ? 0 : a_strides.back(),
                  b_step = shape.empty() ? 0 : b_strides.back();
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t row = 0; row < rows; ++row) {
      const uint8_t* c_row = pc + row_offset(shape, c_strides, row);
      const T* a_row = pa + row_offset(shape, a_strides, row);
      const T* b_row = pb + row_offset(shape, b_strides, row);
      T* o_row = po + row * length;
      for (int64_t k = 0; k < length; ++k) o_row[k] = c_row[k * c_step] ? a_row[k * a_step] : b_row[k * b_step];
    }
  });
}

void clamp(const Tensor& a, const std::optional<double>& min, const std::optional<double>& max, const Tensor& out) {
  const int64_t n = out.numel();
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = pointer<T>(a);
    T* po = mutable_pointer<T>(out);
    const T low = clamp_limit<T>(min, true), high = clamp_limit<T>(max, false);
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) po[i] = clamp_element<T>(pa[i], low, high);
  });
}

void clamp_backward(const Tensor& grad_output, const Tensor& input, const std::optional<double>& min,
                    const std::optional<double>& max, const Tensor& grad_input) {
  const float* pg = pointer<float>(grad_output);
  const float* px = pointer<float>(input);
  float* po = mutable_pointer<float>(grad_input);
  const float low = clamp_limit<float>(min, true), high = clamp_limit<float>(max, false);
  const int64_t n = grad_input.numel();
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) po[i] = clamp_backward_element(pg[i], px[i], low, high);
}

void cast(const Tensor& a, const Tensor& out) {
  const int64_t n = out.numel();
  if (out.dtype() == DType::BFloat16) {  // from Float32 (the dispatch point checked)
    const float* pa = pointer<float>(a);
    uint16_t* po = mutable_pointer<uint16_t>(out);
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) po[i] = bfloat16_from_float(pa[i]);
    return;
  }
  if (a.dtype() == DType::BFloat16) {  // to Float32
    const uint16_t* pa = pointer<uint16_t>(a);
    float* po = mutable_pointer<float>(out);
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) po[i] = float_from_bfloat16(pa[i]);
    return;
  }
  visit_dtype(a.dtype(), [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    visit_dtype(out.dtype(), [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      const From* pa = pointer<From>(a);
      To* po = mutable_pointer<To>(out);
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
      for (int64_t i = 0; i < n; ++i) po[i] = static_cast<To>(pa[i]);
    });
  });
}

void fill(const Tensor& out, double value) {
  const int64_t n = out.numel();
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = mutable_pointer<T>(out);
    const T v = static_cast<T>(value);
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) po[i] = v;
  });
}

void sum_to_shape(const Tensor& a, const Tensor& out) {
  // Each output element sums the input elements that broadcast to it.
  const Shape& big = a.shape();
  const std::vector<int64_t> out_strides = broadcast_strides(out.shape(), big);  // 0 where reduced
  const float* pa = pointer<float>(a);
  float* po = mutable_pointer<float>(out);
  const int64_t n_out = out.numel(), n_in = a.numel();
  for (int64_t j = 0; j < n_out; ++j) po[j] = 0.0f;
  if (n_out == 1) {
    po[0] = static_cast<float>(deterministic_sum<double>(n_in, [pa](int64_t i) { return pa[i]; }));
    return;
  }
  // General case: walk the input once, in row-major order, adding into the mapped output element,
  // in double (as the sums of kernels/reduce: a float total stalls once it is 2^24 times a term, and
  // a million rows already lost 1%). Serial: broadcasting backward is cheap next to the products
  // around it.
  std::vector<double> totals(static_cast<size_t>(n_out), 0.0);
  std::vector<int64_t> index(big.size(), 0);
  int64_t out_offset = 0;
  for (int64_t i = 0; i < n_in; ++i) {
    totals[static_cast<size_t>(out_offset)] += pa[i];
    for (int64_t d = static_cast<int64_t>(big.size()) - 1; d >= 0; --d) {
      const size_t ud = static_cast<size_t>(d);
      if (++index[ud] < big[ud]) {
        out_offset += out_strides[ud];
        break;
      }
      out_offset -= (big[ud] - 1) * out_strides[ud];
      index[ud] = 0;
    }
  }
  for (int64_t j = 0; j < n_out; ++j) po[j] = static_cast<float>(totals[static_cast<size_t>(j)]);
}

}  // namespace wisp::kernels::cpu
