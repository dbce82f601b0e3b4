#include "wisp/kernels/cpu/reduce.h"

#include "wisp/kernels/cpu/parallel.h"
#include "wisp/kernels/reduce_math.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

namespace wisp::kernels::cpu {
namespace {

template <class T>
using Accumulator = SumAccumulator<T>;
}  // namespace

void sum_all(const Tensor& a, const Tensor& out) {
  const int64_t n = a.numel();
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = Accumulator<T>;
    const T* pa = static_cast<const T*>(a.raw_data());
    const Acc total = deterministic_sum<Acc>(n, [pa](int64_t i) { return pa[i]; });
    if constexpr (std::is_floating_point_v<T>) {
      *static_cast<float*>(out.raw_data()) = static_cast<float>(total);
    } else {
      *static_cast<int64_t*>(out.raw_data()) = static_cast<int64_t>(total);
    }
  });
}

void sum_dim(const Tensor& a, int64_t outer, int64_t size, int64_t inner, const Tensor& out) {
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = Accumulator<T>;
    using Out = std::conditional_t<std::is_floating_point_v<T>, float, int64_t>;
    const T* pa = static_cast<const T*>(a.raw_data());
    Out* po = static_cast<Out*>(out.raw_data());
#pragma omp parallel if (outer * size * inner > kParallelThreshold)
    {
      std::vector<Acc> row(static_cast<size_t>(inner));
#pragma omp for schedule(static)
      for (int64_t o = 0; o < outer; ++o) {
        // Walk the reduced dimension in the outer loop so reads stay contiguous along `inner`.
        std::fill(row.begin(), row.end(), Acc(0));
        const T* base = pa + o * size * inner;
        for (int64_t s = 0; s < size; ++s)
          for (int64_t i = 0; i < inner; ++i) row[static_cast<size_t>(i)] += static_cast<Acc>(base[s * inner + i]);
        for (int64_t i = 0; i < inner; ++i) po[o * inner + i] = static_cast<Out>(row[static_cast<size_t>(i)]);
      }
    }
  });
}

void expand_dim(const Tensor& g, int64_t outer, int64_t size, int64_t inner, const Tensor& out) {
  const float* pg = static_cast<const float*>(g.raw_data());
  float* po = static_cast<float*>(out.raw_data());
#pragma omp parallel for schedule(static) if (outer * size * inner > kParallelThreshold)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t s = 0; s < size; ++s)
      for (int64_t i = 0; i < inner; ++i) po[(o * size + s) * inner + i] = pg[o * inner + i];
}

void argmax_dim(const Tensor& a, int64_t outer, int64_t size, int64_t inner, const Tensor& out) {
  int64_t* po = static_cast<int64_t*>(out.raw_data());
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = static_cast<const T*>(a.raw_data());
#pragma omp parallel for schedule(static) if (outer * size * inner > kParallelThreshold)
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) po[o * inner + i] = argmax_of_column(pa + o * size * inner + i, size, inner);
    }
  });
}

}  // namespace wisp::kernels::cpu
