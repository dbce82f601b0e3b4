#include "wisp/core/factories.h"

#include <cmath>
#include <cstdint>

#include "wisp/core/random.h"

namespace wisp {
namespace {

// Fills a CPU tensor with fill(i) for each flat index i, in parallel; then moves it to the
// requested device. (Device-side fills join in the CUDA issue; the values would be identical.)
// `op` names the factory in the error for a shape no tensor can hold.
template <class Fill>
Tensor make(const char* op, const Shape& shape, TensorOptions options, Fill fill) {
  storage_bytes(shape, options.dtype(), op);
  Tensor host = empty(shape, TensorOptions(options.dtype()));
  const int64_t n = host.numel();
  visit_dtype(options.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = host.data<T>();
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(fill(i));
  });
  Tensor result = host;
  if (!options.device().is_cpu()) {
    result = empty(shape, TensorOptions(options.dtype()).device(options.device()));
    copy_bytes(result.raw_data(), result.device(), host.raw_data(), Device::cpu(), host.nbytes());
  }
  if (options.requires_grad()) result.set_requires_grad(true);
  return result;
}

Tensor filled(const char* op, const Shape& shape, double value, TensorOptions options) {
  check_holds_value(op, "value", options.dtype(), value);
  return make(op, shape, options, [value](int64_t) { return value; });
}

}  // namespace

Tensor zeros(const Shape& shape, TensorOptions options) {
  storage_bytes(shape, options.dtype(), "zeros");
  Tensor result = empty(shape, TensorOptions(options.dtype()).device(options.device()));
  zero_bytes(result.raw_data(), result.device(), result.nbytes());
  if (options.requires_grad()) result.set_requires_grad(true);
  return result;
}

Tensor full(const Shape& shape, double value, TensorOptions options) { return filled("full", shape, value, options); }

Tensor ones(const Shape& shape, TensorOptions options) { return filled("ones", shape, 1.0, options); }

Tensor zeros_like(const Tensor& tensor) {
  return zeros(tensor.shape(), TensorOptions(tensor.dtype()).device(tensor.device()));
}

Tensor ones_like(const Tensor& tensor) {
  return ones(tensor.shape(), TensorOptions(tensor.dtype()).device(tensor.device()));
}

Tensor arange(int64_t end, TensorOptions options) { return arange(0, end, 1, options); }

Tensor arange(int64_t start, int64_t end, int64_t step, TensorOptions options) {
  WISP_CHECK(step != 0, "arange: step must be nonzero");
  WISP_CHECK((step > 0 && start <= end) || (step < 0 && start >= end), "arange: the range from ", start, " to ", end,
             " is inconsistent with step ", step);
  // Unsigned arithmetic: end - start and the values' offsets from start may exceed int64 (the
  // values themselves lie in [start, end) and do not).
  const uint64_t distance = step > 0 ? static_cast<uint64_t>(end) - static_cast<uint64_t>(start)
                                     : static_cast<uint64_t>(start) - static_cast<uint64_t>(end);
  const uint64_t stride = step > 0 ? static_cast<uint64_t>(step) : 0 - static_cast<uint64_t>(step);
  const uint64_t values = distance / stride + (distance % stride != 0);  // up to 2^64 - 1
  WISP_CHECK(values <= static_cast<uint64_t>(INT64_MAX), "arange: the range from ", start, " to ", end, " with step ",
             step, " has ", values, " values, more than a tensor can hold");
  const int64_t count = static_cast<int64_t>(values);
  if (count > 0 && !is_floating_point(options.dtype())) {
    check_holds_integer("arange", "start", options.dtype(), start);
    check_holds_integer("arange", "last value", options.dtype(),
                        static_cast<int64_t>(static_cast<uint64_t>(start) +
                                             static_cast<uint64_t>(count - 1) * static_cast<uint64_t>(step)));
  }
  return make("arange", Shape{count}, options, [start, step](int64_t i) {
    return static_cast<int64_t>(static_cast<uint64_t>(start) + static_cast<uint64_t>(i) * static_cast<uint64_t>(step));
  });
}

// The random factories check the shape (storage_bytes) before the generator advances: a call that
// throws draws nothing, so later calls draw the numbers they would have drawn.
Tensor rand(const Shape& shape, TensorOptions options) {
  WISP_CHECK(is_floating_point(options.dtype()), "rand: expected a floating-point dtype but got ", options.dtype());
  storage_bytes(shape, options.dtype(), "rand");
  const Generator::Block block = default_generator().reserve(static_cast<uint64_t>(shape.numel()));
  return make("rand", shape, options,
              [block](int64_t i) { return uniform_from_bits(random_bits(block.key, block.first + i)); });
}

Tensor randn(const Shape& shape, TensorOptions options) {
  WISP_CHECK(is_floating_point(options.dtype()), "randn: expected a floating-point dtype but got ", options.dtype());
  // Two counters per value: Box-Muller with 53-bit uniforms, keeping the cosine branch.
  storage_bytes(shape, options.dtype(), "randn");
  const Generator::Block block = default_generator().reserve(2 * static_cast<uint64_t>(shape.numel()));
  return make("randn", shape, options, [block](int64_t i) {
    const double radius =
        std::sqrt(-2.0 * std::log(open_uniform_from_bits(random_bits(block.key, block.first + 2 * i))));
    const double angle = 6.283185307179586 * open_uniform_from_bits(random_bits(block.key, block.first + 2 * i + 1));
    return radius * std::cos(angle);
  });
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options) {
  WISP_CHECK(low < high, "randint: expected low < high but got low=", low, " high=", high);
  WISP_CHECK(!is_floating_point(options.dtype()), "randint: expected an integer dtype but got ", options.dtype());
  check_holds_integer("randint", "low", options.dtype(), low);
  check_holds_integer("randint", "high - 1", options.dtype(), high - 1);
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);  // may exceed int64
  storage_bytes(shape, options.dtype(), "randint");
  const Generator::Block block = default_generator().reserve(static_cast<uint64_t>(shape.numel()));
  return make("randint", shape, options, [block, low, range](int64_t i) {
    return static_cast<int64_t>(static_cast<uint64_t>(low) +
                                bounded_from_bits(random_bits(block.key, block.first + i), range));
  });
}

}  // namespace wisp
