// CUDA twins of the elementwise kernels (kernels/cuda/elementwise.h). One thread per output element
// in grid-stride loops; the arithmetic is kernels/elementwise_math.h's (shared with the CPU twins),
// the broadcast and reduction indexing kernels/device_indexing.h's (tested on the CPU).
#include "wisp/kernels/cuda/elementwise.h"

#include "wisp/kernels/access.h"
#include "wisp/kernels/bfloat16_math.h"
#include "wisp/kernels/cuda/block_reduce.h"
#include "wisp/kernels/cuda/launch.h"

namespace wisp::kernels::cuda {
namespace {

// out [n] = a [broadcast] op b [broadcast].
template <class T, BinaryOp kOp>
__global__ void binary_kernel(int64_t n, BroadcastIndexer indexer, const T* a, const T* b, T* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) {
    int64_t a_offset, b_offset;
    indexer.offsets(i, a_offset, b_offset);
    out[i] = apply_binary<T>(kOp, a[a_offset], b[b_offset]);
  }
}

// out [n] = a [n] op scalar, or scalar op a when scalar_first.
template <class T, BinaryOp kOp>
__global__ void binary_scalar_kernel(int64_t n, const T* a, T scalar, bool scalar_first, T* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step())
    out[i] = scalar_first ? apply_binary<T>(kOp, scalar, a[i]) : apply_binary<T>(kOp, a[i], scalar);
}

// out [n] = unary(a [n]), float32.
template <UnaryOp kOp>
__global__ void unary_kernel(int64_t n, const float* a, float* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) out[i] = apply_unary(kOp, a[i]);
}

// grad_input [n] = grad_output [n] where input [n] > 0, else 0.
__global__ void relu_backward_kernel(int64_t n, const float* grad_output, const float* input, float* grad_input) {
  for (int64_t i = grid_first(); i < n; i += grid_step())
    grad_input[i] = relu_backward_element(grad_output[i], input[i]);
}

// grad_input [n] = unary_backward_element(grad_output [n], saved [n]).
template <UnaryOp kOp>
__global__ void unary_backward_kernel(int64_t n, const float* grad_output, const float* saved, float* grad_input) {
  for (int64_t i = grid_first(); i < n; i += grid_step())
    grad_input[i] = unary_backward_element(kOp, grad_output[i], saved[i]);
}

// out [n] (uint8) = a [broadcast] op b [broadcast].
template <class T, CompareOp kOp>
__global__ void compare_kernel(int64_t n, BroadcastIndexer indexer, const T* a, const T* b, uint8_t* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) {
    int64_t a_offset, b_offset;
    indexer.offsets(i, a_offset, b_offset);
    out[i] = apply_compare<T>(kOp, a[a_offset], b[b_offset]) ? 1 : 0;
  }
}

// out [n] (uint8) = a [n] op scalar.
template <class T, CompareOp kOp>
__global__ void compare_scalar_kernel(int64_t n, const T* a, T scalar, uint8_t* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) out[i] = apply_compare<T>(kOp, a[i], scalar) ? 1 : 0;
}

// out [n] = condition [broadcast] ? a [broadcast] : b [broadcast].
template <class T>
__global__ void where_kernel(int64_t n, TernaryBroadcastIndexer indexer, const uint8_t* condition, const T* a,
                             const T* b, T* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) {
    int64_t c_offset, a_offset, b_offset;
    indexer.offsets(i, c_offset, a_offset, b_offset);
    out[i] = condition[c_offset] ? a[a_offset] : b[b_offset];
  }
}

// out [n] = clamp_element(a [n], low, high).
template <class T>
__global__ void clamp_kernel(int64_t n, const T* a, T low, T high, T* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) out[i] = clamp_element<T>(a[i], low, high);
}

// grad_input [n] = grad_output [n] where low <= input [n] <= high, else 0.
__global__ void clamp_backward_kernel(int64_t n, const float* grad_output, const float* input, float low, float high,
                                      float* grad_input) {
  for (int64_t i = grid_first(); i < n; i += grid_step())
    grad_input[i] = clamp_backward_element(grad_output[i], input[i], low, high);
}

// out [n] = a [n] rounded to bfloat16 (bits), and back (exact).
__global__ void to_bfloat16_kernel(int64_t n, const float* a, uint16_t* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) out[i] = bfloat16_from_float(a[i]);
}

__global__ void from_bfloat16_kernel(int64_t n, const uint16_t* a, float* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) out[i] = float_from_bfloat16(a[i]);
}

// out [n] = static_cast<To>(a [n]).
template <class From, class To>
__global__ void cast_kernel(int64_t n, const From* a, To* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) out[i] = static_cast<To>(a[i]);
}

template <class T>
__global__ void fill_kernel(int64_t n, T value, T* out) {
  for (int64_t i = grid_first(); i < n; i += grid_step()) out[i] = value;
}

// out [n] = Σ_r in[indexer.in_offset(j, r)]: one thread per output element, summing in a fixed order
// (double accumulation, like the CPU twin's general case).
__global__ void sum_to_shape_kernel(int64_t n, ReductionIndexer indexer, const float* in, float* out) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) {
    double total = 0.0;
    for (int64_t r = 0; r < indexer.reduced_count; ++r) total += in[indexer.in_offset(j, r)];
    out[j] = static_cast<float>(total);
  }
}

// The same with one block per output element, for few outputs that each sum many elements (the
// thread-per-output kernel would then run a handful of threads, each over a long serial sum): the
// block's threads take strided shares of the reduced elements and block_sum adds them in a fixed tree.
// Launched with n blocks of kThreadsPerBlock.
__global__ void sum_to_shape_blocks_kernel(ReductionIndexer indexer, const float* in, float* out) {
  __shared__ double shared[kThreadsPerBlock];
  const int64_t j = blockIdx.x;
  double share = 0.0;
  for (int64_t r = threadIdx.x; r < indexer.reduced_count; r += kThreadsPerBlock) share += in[indexer.in_offset(j, r)];
  const double total = block_sum(share, shared);
  if (threadIdx.x == 0) out[j] = static_cast<float>(total);
}

}  // namespace

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  const DeviceScope scope(out);
  const BroadcastIndexer indexer = make_broadcast_indexer(a.shape(), b.shape(), out.shape());
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    visit_binary_op(op, [&](auto op_constant) {
      launch(binary_kernel<T, decltype(op_constant)::value>, out.numel(), indexer, pointer<T>(a), pointer<T>(b),
             mutable_pointer<T>(out));
    });
  });
}

void binary_scalar(BinaryOp op, const Tensor& a, double scalar, bool scalar_first, const Tensor& out) {
  const DeviceScope scope(out);
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    visit_binary_op(op, [&](auto op_constant) {
      launch(binary_scalar_kernel<T, decltype(op_constant)::value>, out.numel(), pointer<T>(a), static_cast<T>(scalar),
             scalar_first, mutable_pointer<T>(out));
    });
  });
}

void unary(UnaryOp op, const Tensor& a, const Tensor& out) {
  const DeviceScope scope(out);
  visit_unary_op(op, [&](auto op_constant) {
    launch(unary_kernel<decltype(op_constant)::value>, out.numel(), pointer<float>(a), mutable_pointer<float>(out));
  });
}

void unary_backward(UnaryOp op, const Tensor& grad_output, const Tensor& saved, const Tensor& grad_input) {
  const DeviceScope scope(grad_input);
  visit_unary_op(op, [&](auto op_constant) {
    launch(unary_backward_kernel<decltype(op_constant)::value>, grad_input.numel(), pointer<float>(grad_output),
           pointer<float>(saved), mutable_pointer<float>(grad_input));
  });
}

void relu_backward(const Tensor& grad_output, const Tensor& input, const Tensor& grad_input) {
  const DeviceScope scope(grad_input);
  launch(relu_backward_kernel, grad_input.numel(), pointer<float>(grad_output), pointer<float>(input),
         mutable_pointer<float>(grad_input));
}

void compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  const DeviceScope scope(out);
  const BroadcastIndexer indexer = make_broadcast_indexer(a.shape(), b.shape(), out.shape());
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    visit_compare_op(op, [&](auto op_constant) {
      launch(compare_kernel<T, decltype(op_constant)::value>, out.numel(), indexer, pointer<T>(a), pointer<T>(b),
             mutable_pointer<uint8_t>(out));
    });
  });
}

void compare_scalar(CompareOp op, const Tensor& a, double scalar, const Tensor& out) {
  const DeviceScope scope(out);
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    visit_compare_op(op, [&](auto op_constant) {
      launch(compare_scalar_kernel<T, decltype(op_constant)::value>, out.numel(), pointer<T>(a), static_cast<T>(scalar),
             mutable_pointer<uint8_t>(out));
    });
  });
}

void where(const Tensor& condition, const Tensor& a, const Tensor& b, const Tensor& out) {
  const DeviceScope scope(out);
  const TernaryBroadcastIndexer indexer =
      make_ternary_broadcast_indexer(condition.shape(), a.shape(), b.shape(), out.shape());
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(where_kernel<T>, out.numel(), indexer, pointer<uint8_t>(condition), pointer<T>(a), pointer<T>(b),
           mutable_pointer<T>(out));
  });
}

void clamp(const Tensor& a, const std::optional<double>& min, const std::optional<double>& max, const Tensor& out) {
  const DeviceScope scope(out);
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(clamp_kernel<T>, out.numel(), pointer<T>(a), clamp_limit<T>(min, true), clamp_limit<T>(max, false),
           mutable_pointer<T>(out));
  });
}

void clamp_backward(const Tensor& grad_output, const Tensor& input, const std::optional<double>& min,
                    const std::optional<double>& max, const Tensor& grad_input) {
  const DeviceScope scope(grad_input);
  launch(clamp_backward_kernel, grad_input.numel(), pointer<float>(grad_output), pointer<float>(input),
         clamp_limit<float>(min, true), clamp_limit<float>(max, false), mutable_pointer<float>(grad_input));
}

void cast(const Tensor& a, const Tensor& out) {
  const DeviceScope scope(out);
  if (out.dtype() == DType::BFloat16) {  // from Float32 (the dispatch point checked)
    launch(to_bfloat16_kernel, out.numel(), pointer<float>(a), mutable_pointer<uint16_t>(out));
    return;
  }
  if (a.dtype() == DType::BFloat16) {  // to Float32
    launch(from_bfloat16_kernel, out.numel(), pointer<uint16_t>(a), mutable_pointer<float>(out));
    return;
  }
  visit_dtype(a.dtype(), [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    visit_dtype(out.dtype(), [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      launch(cast_kernel<From, To>, out.numel(), pointer<From>(a), mutable_pointer<To>(out));
    });
  });
}

void fill(const Tensor& out, double value) {
  const DeviceScope scope(out);
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(fill_kernel<T>, out.numel(), static_cast<T>(value), mutable_pointer<T>(out));
  });
}

void sum_to_shape(const Tensor& a, const Tensor& out) {
  const DeviceScope scope(out);
  const ReductionIndexer indexer = make_reduction_indexer(a.shape(), out.shape());
  const int64_t outputs = out.numel();
  if (outputs > 0 && outputs < kBlockPerOutputBelow && indexer.reduced_count >= kThreadsPerBlock) {
    launch_blocks(sum_to_shape_blocks_kernel, dim3(static_cast<unsigned>(outputs)), dim3(kThreadsPerBlock), indexer,
                  pointer<float>(a), mutable_pointer<float>(out));
    return;
  }
  launch(sum_to_shape_kernel, outputs, indexer, pointer<float>(a), mutable_pointer<float>(out));
}

}  // namespace wisp::kernels::cuda
