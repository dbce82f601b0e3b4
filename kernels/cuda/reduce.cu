// CUDA twins of the reductions (kernels/cuda/reduce.h). Sums accumulate like the CPU twins (double
// for float32; uint64 for integers, wrapping as int64) and in a fixed order for a given size, so results repeat run to
// run; they differ from the CPU's in the last bits only by the order of the additions.
#include "wisp/kernels/cuda/reduce.h"

#include "wisp/kernels/access.h"
#include "wisp/kernels/cuda/block_reduce.h"
#include "wisp/kernels/cuda/launch.h"
#include "wisp/kernels/reduce_math.h"

namespace wisp::kernels::cuda {
namespace {

constexpr int kReduceBlocks = 1024;  // partial sums of sum_all (then added in order by one thread)

// partials [gridDim.x]: block b's sum of the elements i ≡ its threads' indices (grid-stride), reduced
// in shared memory by a fixed tree.
template <class T>
__global__ void sum_partials_kernel(int64_t n, const T* a, SumAccumulator<T>* partials) {
  using Acc = SumAccumulator<T>;
  __shared__ Acc shared[kThreadsPerBlock];
  Acc total = 0;
  for (int64_t i = grid_first(); i < n; i += grid_step()) total += static_cast<Acc>(a[i]);
  shared[threadIdx.x] = total;
  __syncthreads();
  for (int half = kThreadsPerBlock / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = shared[0];
}

// out [1] = scale · Σ partials [count], in order (one thread; scale is 1 for sum_all).
template <class T>
__global__ void sum_finish_kernel(int64_t count, const SumAccumulator<T>* partials, double scale, SumOutput<T>* out) {
  if (grid_first() != 0) return;
  SumAccumulator<T> total = 0;
  for (int64_t b = 0; b < count; ++b) total += partials[b];
  if constexpr (std::is_floating_point<SumAccumulator<T>>::value) total *= scale;
  *out = static_cast<SumOutput<T>>(total);
}

// out [outer · inner]: out[o, i] = Σ_s a[o, s, i].
template <class T>
__global__ void sum_dim_kernel(int64_t n, const T* a, int64_t size, int64_t inner, SumOutput<T>* out) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) {
    const int64_t o = j / inner, i = j % inner;
    const T* column = a + o * size * inner + i;
    SumAccumulator<T> total = 0;
    for (int64_t s = 0; s < size; ++s) total += static_cast<SumAccumulator<T>>(column[s * inner]);
    out[j] = static_cast<SumOutput<T>>(total);
  }
}

// The same with one block per output, for few outputs that each sum many elements (a vector summed
// over its only dimension would otherwise be one thread's serial loop): the block's threads take
// strided shares of the summed elements and block_sum adds them in a fixed tree. Launched with n
// blocks of kThreadsPerBlock.
template <class T>
__global__ void sum_dim_blocks_kernel(const T* a, int64_t size, int64_t inner, SumOutput<T>* out) {
  using Acc = SumAccumulator<T>;
  __shared__ Acc shared[kThreadsPerBlock];
  const int64_t j = blockIdx.x;
  const T* column = a + (j / inner) * size * inner + j % inner;
  Acc share = 0;
  for (int64_t s = threadIdx.x; s < size; s += kThreadsPerBlock) share += static_cast<Acc>(column[s * inner]);
  const Acc total = block_sum(share, shared);
  if (threadIdx.x == 0) out[j] = static_cast<SumOutput<T>>(total);
}

// out [outer · size · inner]: out[o, s, i] = g[o, i].
__global__ void expand_dim_kernel(int64_t n, const float* g, int64_t size, int64_t inner, float* out) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) {
    const int64_t i = j % inner, o = j / (size * inner);
    out[j] = g[o * inner + i];
  }
}

// out [outer · inner] (int64): out[o, i] = argmax_s a[o, s, i] (kernels/reduce_math.h's order).
template <class T>
__global__ void argmax_dim_kernel(int64_t n, const T* a, int64_t size, int64_t inner, int64_t* out) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) {
    out[j] = argmax_of_column(a + (j / inner) * size * inner + j % inner, size, inner);
  }
}

}  // namespace

void sum_all(const Tensor& a, const Tensor& out) { sum_all_scaled(a, 1.0, out); }

void sum_all_scaled(const Tensor& a, double scale, const Tensor& out) {
  const DeviceScope scope(a);
  const int64_t n = a.numel();
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = SumAccumulator<T>;
    const int64_t blocks = std::min<int64_t>(blocks_for(n), kReduceBlocks);
    // The partial sums live in a scratch tensor from the caching allocator (8 bytes per block).
    const Tensor partials = empty({blocks}, TensorOptions(DType::Int64).device(a.device()));
    Acc* partial_data = mutable_pointer<Acc>(partials);
    launch_blocks(sum_partials_kernel<T>, dim3(static_cast<unsigned>(blocks)), dim3(kThreadsPerBlock), n, pointer<T>(a),
                  partial_data);
    launch_blocks(sum_finish_kernel<T>, dim3(1), dim3(1), blocks, static_cast<const Acc*>(partial_data), scale,
                  mutable_pointer<SumOutput<T>>(out));
  });
}

void sum_dim(const Tensor& a, int64_t outer, int64_t size, int64_t inner, const Tensor& out) {
  const DeviceScope scope(a);
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t outputs = outer * inner;
    if (outputs > 0 && outputs < kBlockPerOutputBelow && size >= kThreadsPerBlock) {
      launch_blocks(sum_dim_blocks_kernel<T>, dim3(static_cast<unsigned>(outputs)), dim3(kThreadsPerBlock),
                    pointer<T>(a), size, inner, mutable_pointer<SumOutput<T>>(out));
      return;
    }
    launch(sum_dim_kernel<T>, outputs, pointer<T>(a), size, inner, mutable_pointer<SumOutput<T>>(out));
  });
}

void expand_dim(const Tensor& g, int64_t outer, int64_t size, int64_t inner, const Tensor& out) {
  const DeviceScope scope(g);
  launch(expand_dim_kernel, outer * size * inner, pointer<float>(g), size, inner, mutable_pointer<float>(out));
}

void argmax_dim(const Tensor& a, int64_t outer, int64_t size, int64_t inner, const Tensor& out) {
  const DeviceScope scope(a);
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(argmax_dim_kernel<T>, outer * inner, pointer<T>(a), size, inner, mutable_pointer<int64_t>(out));
  });
}

}  // namespace wisp::kernels::cuda
