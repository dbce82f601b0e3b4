#include "wisp/kernels/cpu/reduce.h"

#include "wisp/kernels/access.h"
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
    const T* pa = pointer<T>(a);
    const Acc total = deterministic_sum<Acc>(n, [pa](int64_t i) { return pa[i]; });
    if constexpr (std::is_floating_point_v<T>) {
      *mutable_pointer<float>(out) = static_cast<float>(total);
    } else {
      *mutable_pointer<int64_t>(out) = static_cast<int64_t>(total);
    }
  });
}

void sum_dim(const Tensor& a, int64_t outer, int64_t size, int64_t inner, const Tensor& out) {
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = Accumulator<T>;
    using Out = std::conditional_t<std::is_floating_point_v<T>, float, int64_t>;
    const T* pa = pointer<T>(a);
    Out* po = mutable_pointer<Out>(out);
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
  const float* pg = pointer<float>(g);
  float* po = mutable_pointer<float>(out);
#pragma omp parallel for schedule(static) if (outer * size * inner > kParallelThreshold)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t s = 0; s < size; ++s)
      for (int64_t i = 0; i < inner; ++i) po[(o * size + s) * inner + i] = pg[o * inner + i];
}

void argmax_dim(const Tensor& a, int64_t outer, int64_t size, int64_t inner, const Tensor& out) {
  int64_t* po = mutable_pointer<int64_t>(out);
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = pointer<T>(a);
#pragma omp parallel for schedule(static) if (outer * size * inner > kParallelThreshold)
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) po[o * inner + i] = argmax_of_column(pa + o * size * inner + i, size, inner);
    }
  });
}

}  // namespace wisp::kernels::cpu
