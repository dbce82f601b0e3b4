// [cuda] k-winners on the GPU (kernels/cuda/k_winners.cu) against the CPU twin, through the
// dispatch points (kernels/k_winners.h) and the ActivationSparsity layer. Tolerance: none — every
// comparison is exact (bit for bit for floats). Both devices rank by the same 64-bit keys with
// boosts computed alike (kernels/k_winners_math.h), so the winners, the outputs, the masks, the
// win counts, the gradients and the updated duty cycles must be identical. Runs only with a GPU.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "test_helpers.h"
#include "wisp/kernels/k_winners.h"

using namespace wisp;

namespace {

const Device kGpu = Device::cuda(0);

// The first index where two vectors differ (by their bytes), or -1: one assertion per tensor,
// not per element, keeps the tests fast on millions of elements.
template <class T>
int64_t first_difference(const std::vector<T>& a, const std::vector<T>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return static_cast<int64_t>(i);
  return -1;
}

// Tensors of one dtype T equal bit for bit (NaN, −0 and infinities included), on any devices.
template <class T>
void require_same(const Tensor& actual, const Tensor& expected) {
  REQUIRE(actual.shape() == expected.shape());
  const std::vector<T> a = actual.to_vector<T>(), b = expected.to_vector<T>();
  const int64_t at = first_difference(a, b);
  INFO("first difference at element " << at << " of " << a.size() << ": "
                                      << (at < 0 ? 0.0 : static_cast<double>(a[static_cast<size_t>(at)])) << " vs "
                                      << (at < 0 ? 0.0 : static_cast<double>(b[static_cast<size_t>(at)])));
  REQUIRE(at == -1);
}

// Runs the forward on both devices (win counts on), requires identical results and k winners per
// sample, then the backward through the masks with a random gradient. Returns the CPU's mask.
Tensor require_same_k_winners(const Tensor& x, const Tensor& duty, int64_t k, double beta) {
  const kernels::KWinnersForward cpu = kernels::k_winners_forward(x, duty, k, beta, true);
  const kernels::KWinnersForward gpu = kernels::k_winners_forward(x.to(kGpu), duty.to(kGpu), k, beta, true);
  REQUIRE(gpu.output.device() == kGpu);
  require_same<uint8_t>(gpu.mask, cpu.mask);
  require_same<float>(gpu.output, cpu.output);
  require_same<int64_t>(gpu.win_counts, cpu.win_counts);
  // The CPU twin's own contract, so that a shared mistake cannot pass: k winners per sample.
  const std::vector<uint8_t> won = cpu.mask.to_vector<uint8_t>();
  const int64_t units = x.size(-1), samples = x.numel() / units;
  for (int64_t s = 0; s < samples; ++s) {
    int64_t winners = 0;
    for (int64_t i = 0; i < units; ++i) winners += won[static_cast<size_t>(s * units + i)];
    if (winners != k) FAIL("sample " << s << " has " << winners << " winners instead of " << k);
  }
  const Tensor upstream = randn(x.shape());
  require_same<float>(kernels::k_winners_backward(upstream.to(kGpu), gpu.mask),
                      kernels::k_winners_backward(upstream, cpu.mask));
  return cpu.mask;
}

}  // namespace

TEST_CASE("CUDA k-winners picks the CPU's winners for every width, k and shape", "[cuda][k_winners]") {
  manual_seed(21);
  for (int64_t units : {10, 1000, 50000}) {
    const Tensor duty = rand({units}) * 0.6;  // non-uniform: the boosts change the ranking
    for (int64_t k : {int64_t{1}, units / 3, (units * 35 + 50) / 100, units - 1, units}) {
      if (k < 1) continue;
      for (const Shape& shape : {Shape{units}, Shape{64, units}, Shape{2, 3, units}}) {
        for (double beta : {0.0, 1.5}) {
          INFO("units " << units << ", k " << k << ", shape " << shape << ", beta " << beta);
          require_same_k_winners(randn(shape) * 2.0, duty, k, beta);
        }
      }
    }
  }
  // k in the thousands, many samples: several blocks per GPU core, the grid looping over samples.
  require_same_k_winners(randn({300, 20000}), rand({20000}), 3000, 1.5);
}

TEST_CASE("CUDA k-winners breaks ties by the lower index, like the CPU", "[cuda][k_winners]") {
  manual_seed(22);
  for (int64_t units : {10, 1000, 50000}) {
    INFO("units " << units);
    // Few distinct values and equal duty cycles: most scores tie, and only the index decides.
    const Tensor tied = randint(-3, 4, {8, units}, DType::Int32).to(DType::Float32);
    const Tensor uniform_duty = full({units}, 0.35);
    for (int64_t k : {int64_t{1}, units / 2, units - 1}) {
      INFO("k " << k);
      require_same_k_winners(tied, uniform_duty, k, 1.5);
    }
    // Every value equal: the winners are exactly units 0 .. k-1.
    const int64_t k = units / 4 + 1;
    const Tensor mask = require_same_k_winners(full({3, units}, 1.0), uniform_duty, k, 1.5);
    const std::vector<uint8_t> won = mask.to_vector<uint8_t>();
    for (int64_t i = 0; i < units; ++i) REQUIRE(won[static_cast<size_t>(i)] == (i < k ? 1 : 0));
    // Ties between equal products of different inputs and boosts: duty cycles from two values.
    const Tensor two_duties = randint(0, 2, {units}, DType::Int32).to(DType::Float32) * 0.5;
    require_same_k_winners(randint(0, 3, {4, units}, DType::Int32).to(DType::Float32), two_duties, k, 1.0);
  }
}

TEST_CASE("CUDA k-winners ranks zeros, infinities, NaN and huge boosts like the CPU", "[cuda][k_winners]") {
  manual_seed(23);
  const int64_t units = 1000;
  std::vector<float> values = randn({4, units}).to_vector<float>();
  const float infinity = std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < values.size(); i += 7) values[i] = 0.0f;
  for (size_t i = 3; i < values.size(); i += 11) values[i] = -0.0f;
  for (size_t i = 5; i < values.size(); i += 101) values[i] = infinity;
  for (size_t i = 9; i < values.size(); i += 103) values[i] = -infinity;
  for (size_t i = 2; i < values.size(); i += 97) values[i] = std::nanf("");
  const Tensor x = from_vector<float>(values, {4, units});
  // beta 400: scores overflow float to ±inf or underflow to 0; beta 2000: boosts overflow double to
  // inf for the least active units (and 0 · inf is NaN, ranked lowest).
  for (double beta : {0.0, 1.5, 400.0, 2000.0}) {
    INFO("beta " << beta);
    for (int64_t k : {int64_t{1}, int64_t{500}, units - 1, units}) require_same_k_winners(x, rand({units}), k, beta);
  }
}

TEST_CASE("CUDA k-winners handles no samples, and counts wins only when asked", "[cuda][k_winners]") {
  manual_seed(24);
  for (int64_t k : {1, 10}) {
    const kernels::KWinnersForward gpu =
        kernels::k_winners_forward(zeros({0, 10}).to(kGpu), rand({10}).to(kGpu), k, 1.5, true);
    REQUIRE(gpu.output.shape() == Shape{0, 10});
    REQUIRE(gpu.win_counts.to_vector<int64_t>() == std::vector<int64_t>(10, 0));
  }
  const Tensor x = randn({5, 100}), duty = rand({100});
  const kernels::KWinnersForward cpu = kernels::k_winners_forward(x, duty, 30, 1.5, false);
  const kernels::KWinnersForward gpu = kernels::k_winners_forward(x.to(kGpu), duty.to(kGpu), 30, 1.5, false);
  REQUIRE_FALSE(gpu.win_counts.defined());
  REQUIRE(gpu.mask.to_vector<uint8_t>() == cpu.mask.to_vector<uint8_t>());
}

TEST_CASE("CUDA duty-cycle update matches the CPU bit for bit", "[cuda][k_winners]") {
  manual_seed(25);
  for (int64_t units : {10, 50000}) {
    const Tensor duty = rand({units}), counts = randint(0, 65, {units});
    const Tensor cpu_duty = duty.clone(), gpu_duty = duty.to(kGpu);
    for (double alpha : {0.1, 1.0, 0.0137}) {
      kernels::k_winners_update_duty_cycle_(cpu_duty, counts, 64, alpha);
      kernels::k_winners_update_duty_cycle_(gpu_duty, counts.to(kGpu), 64, alpha);
      require_same<float>(gpu_duty, cpu_duty);
    }
  }
}

TEST_CASE("ActivationSparsity trains identically on the GPU and the CPU", "[cuda][k_winners][activation_sparsity]") {
  manual_seed(26);
  for (const Shape& shape : {Shape{64, 2000}, Shape{2, 3, 50000}, Shape{10}}) {
    INFO("shape " << shape);
    const int64_t units = shape.back();
    // Two GPU layers, one for each way a layer gets its duty cycles there: created on its first
    // forward, on the GPU (moving the layer before that moves nothing), or created at construction
    // (on the CPU) and then moved. Both must train exactly like the CPU layer.
    nn::ActivationSparsity cpu_layer, created_on_gpu, moved_to_gpu(nn::ActivationSparsityOptions().units(units));
    created_on_gpu.to(kGpu);
    moved_to_gpu.to(kGpu);
    for (int step = 0; step < 6; ++step) {
      INFO("step " << step);
      if (step == 4) {  // evaluation: same ranking, duty cycles frozen
        cpu_layer.eval();
        created_on_gpu.eval();
        moved_to_gpu.eval();
      }
      const Tensor x = randn(shape) + rand({units});  // a per-unit offset: some units win more often
      const Tensor upstream = randn(shape);
      const Tensor x_cpu = x.clone().set_requires_grad(true);
      const Tensor y_cpu = cpu_layer(x_cpu);
      y_cpu.backward(upstream);
      for (nn::ActivationSparsity* gpu_layer : {&created_on_gpu, &moved_to_gpu}) {
        INFO((gpu_layer == &created_on_gpu ? "duty cycles created on the GPU" : "duty cycles moved to the GPU"));
        const Tensor x_gpu = x.to(kGpu).set_requires_grad(true);
        const Tensor y_gpu = (*gpu_layer)(x_gpu);
        REQUIRE(y_gpu.device() == kGpu);
        require_same<float>(y_gpu, y_cpu);
        y_gpu.backward(upstream.to(kGpu));
        require_same<float>(x_gpu.grad(), x_cpu.grad());
        REQUIRE(gpu_layer->duty_cycle().device() == kGpu);
        require_same<float>(gpu_layer->duty_cycle(), cpu_layer.duty_cycle());
      }
    }
  }
}
