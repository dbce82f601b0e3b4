// [cuda] cat and repeat_interleave on the GPU (kernels/cuda/shape.cu) against the CPU twins,
// through the public ops and autograd: every dtype forward, float32 gradients. Tolerance: none —
// the forwards and cat's backward are copies, and repeat_interleave's backward adds each group in
// the CPU twin's order in float, so every comparison is exact. Runs only with a GPU.
#include <cstdint>
#include <vector>

#include "test_helpers.h"

using namespace wisp;

namespace {

const Device kGpu = Device::cuda(0);

// A random tensor of `dtype` (floats from randn, integers from a range that fits uint8).
Tensor random_tensor(const Shape& shape, DType dtype) {
  return dtype == DType::Float32 ? randn(shape) : randint(0, 200, shape, dtype);
}

// Two tensors of one dtype with equal shapes and equal elements (floats compared with ==; the
// inputs hold no NaN).
void require_equal(const Tensor& actual, const Tensor& expected) {
  REQUIRE(actual.dtype() == expected.dtype());
  REQUIRE(actual.shape() == expected.shape());
  switch (expected.dtype()) {
    case DType::Float32:
      REQUIRE(actual.to_vector<float>() == expected.to_vector<float>());
      break;
    case DType::Int64:
      REQUIRE(actual.to_vector<int64_t>() == expected.to_vector<int64_t>());
      break;
    case DType::Int32:
      REQUIRE(actual.to_vector<int32_t>() == expected.to_vector<int32_t>());
      break;
    case DType::UInt8:
      REQUIRE(actual.to_vector<uint8_t>() == expected.to_vector<uint8_t>());
      break;
    case DType::UInt16:
      REQUIRE(actual.to_vector<uint16_t>() == expected.to_vector<uint16_t>());
      break;
    case DType::BFloat16:
      REQUIRE(actual.to(DType::Float32).to_vector<float>() == expected.to(DType::Float32).to_vector<float>());
      break;
  }
}

std::vector<Tensor> to_gpu(const std::vector<Tensor>& tensors) {
  std::vector<Tensor> moved;
  for (const Tensor& t : tensors) moved.push_back(t.to(kGpu));
  return moved;
}

}  // namespace

TEST_CASE("CUDA cat matches the CPU along every dimension and for every dtype", "[cuda][shape][cat]") {
  manual_seed(31);
  for (DType dtype : {DType::Float32, DType::Int64, DType::Int32, DType::UInt8}) {
    for (int64_t dim = 0; dim < 3; ++dim) {
      INFO("dtype " << dtype << ", dim " << dim);
      // Sizes along dim: 3, 0 (an empty piece), 1 and 5; the other dimensions [4, 6, 7].
      std::vector<Tensor> pieces;
      for (int64_t size : {3, 0, 1, 5}) {
        std::vector<int64_t> dims = {4, 6, 7};
        dims[static_cast<size_t>(dim)] = size;
        pieces.push_back(random_tensor(Shape(dims), dtype));
      }
      const Tensor gpu = cat(to_gpu(pieces), dim);
      REQUIRE(gpu.device() == kGpu);
      require_equal(gpu.cpu(), cat(pieces, dim));
      require_equal(cat(to_gpu(pieces), dim - 3).cpu(), cat(pieces, dim));  // negative dimension
    }
  }
  // 1-D, one piece, a large one (several blocks per launch), and nothing before the dimension.
  const Tensor big = randn({300000}), small = randn({7});
  require_equal(cat({big.to(kGpu), small.to(kGpu)}).cpu(), cat({big, small}));
  require_equal(cat({small.to(kGpu)}).cpu(), cat({small}));
  const Tensor empty_rows_a = randn({0, 3}), empty_rows_b = randn({0, 2});
  require_equal(cat({empty_rows_a.to(kGpu), empty_rows_b.to(kGpu)}, 1).cpu(), cat({empty_rows_a, empty_rows_b}, 1));
}

TEST_CASE("CUDA cat backward slices the gradient like the CPU", "[cuda][shape][cat]") {
  manual_seed(32);
  for (int64_t dim = 0; dim < 3; ++dim) {
    INFO("dim " << dim);
    std::vector<Tensor> values;
    for (int64_t size : {2, 0, 4, 1}) {
      std::vector<int64_t> dims = {3, 5, 8};
      dims[static_cast<size_t>(dim)] = size;
      values.push_back(randn(Shape(dims)));
    }
    // Inputs 0, 1 and 3 need a gradient, input 2 does not (its gradient is never written).
    std::vector<Tensor> cpu_inputs, gpu_inputs;
    for (size_t j = 0; j < values.size(); ++j) {
      cpu_inputs.push_back(values[j].clone().set_requires_grad(j != 2));
      gpu_inputs.push_back(values[j].to(kGpu).set_requires_grad(j != 2));
    }
    const Tensor cpu_out = cat(cpu_inputs, dim), gpu_out = cat(gpu_inputs, dim);
    const Tensor upstream = randn(cpu_out.shape());
    cpu_out.backward(upstream);
    gpu_out.backward(upstream.to(kGpu));
    for (size_t j = 0; j < values.size(); ++j) {
      INFO("input " << j);
      if (j == 2) {
        REQUIRE_FALSE(gpu_inputs[j].grad().defined());
        continue;
      }
      REQUIRE(gpu_inputs[j].grad().device() == kGpu);
      require_equal(gpu_inputs[j].grad().cpu(), cpu_inputs[j].grad());
    }
  }
}

TEST_CASE("CUDA repeat_interleave matches the CPU for every dtype, dimension and repeat count",
          "[cuda][shape][repeat_interleave]") {
  manual_seed(33);
  for (DType dtype : {DType::Float32, DType::Int64, DType::Int32, DType::UInt8}) {
    const Tensor a = random_tensor({3, 4, 5}, dtype), a_gpu = a.to(kGpu);
    for (int64_t repeats : {0, 1, 3}) {
      INFO("dtype " << dtype << ", repeats " << repeats);
      require_equal(a_gpu.repeat_interleave(repeats).cpu(), a.repeat_interleave(repeats));  // flattened
      for (int64_t dim = 0; dim < 3; ++dim) {
        INFO("dim " << dim);
        require_equal(a_gpu.repeat_interleave(repeats, dim).cpu(), a.repeat_interleave(repeats, dim));
      }
    }
  }
  const Tensor scalar = full({}, 2.5), big = randn({1000, 300});
  require_equal(scalar.to(kGpu).repeat_interleave(4, 0).cpu(), scalar.repeat_interleave(4, 0));
  require_equal(big.to(kGpu).repeat_interleave(5, 1).cpu(), big.repeat_interleave(5, 1));
  require_equal(randn({0, 3}).to(kGpu).repeat_interleave(2, 1).cpu(), randn({0, 3}).repeat_interleave(2, 1));
}

TEST_CASE("CUDA repeat_interleave backward sums each group exactly like the CPU", "[cuda][shape][repeat_interleave]") {
  manual_seed(34);
  for (const Shape& shape : {Shape{3, 4, 5}, Shape{1000, 300}, Shape{7}}) {
    for (int64_t repeats : {0, 1, 3, 17}) {
      for (int64_t dim = -1; dim < static_cast<int64_t>(shape.size()); ++dim) {  // -1: flattened
        INFO("shape " << shape << ", repeats " << repeats << ", dim " << dim);
        const Tensor a = randn(shape);
        const Tensor cpu_input = a.clone().set_requires_grad(true), gpu_input = a.to(kGpu).set_requires_grad(true);
        const Tensor cpu_out =
            dim < 0 ? cpu_input.repeat_interleave(repeats) : cpu_input.repeat_interleave(repeats, dim);
        const Tensor gpu_out =
            dim < 0 ? gpu_input.repeat_interleave(repeats) : gpu_input.repeat_interleave(repeats, dim);
        const Tensor upstream = randn(cpu_out.shape());
        cpu_out.backward(upstream);
        gpu_out.backward(upstream.to(kGpu));
        REQUIRE(gpu_input.grad().device() == kGpu);
        require_equal(gpu_input.grad().cpu(), cpu_input.grad());
      }
    }
  }
}
