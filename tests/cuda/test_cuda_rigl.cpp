// [cuda] RigL on the GPU (kernels/cuda/rigl.cu) against the CPU twins: each kernel on data with
// ties, every tile size and the edge counts, a whole rigl_update, and a dynamic SparseLinear trained
// with SGD momentum on both devices. Runs only with a GPU.
//
// The contract, and so the tolerances:
// * drop, rewire, gather: no arithmetic, so exact equality (masks, indices, sources, values).
// * grow: both devices rank |G[o, i]| = |Σ_r g[r, o] · x[r, i]| by the same order (magnitude, then
//   kernels::rigl_tie_rank), but sum in different orders. On small-integer data every sum is exact,
//   so the positions are equal, ties included. On random floats a position may differ only where
//   its magnitude lies within float rounding (4 · rows · 2^-24 · Σ_r |g · x|, the largest such sum)
//   of the count-th best magnitude, computed in double.
// * training: with small-integer batches and a learning rate and momentum that are powers of two,
//   every gradient, momentum and weight update is exact on both devices: connections, weights and
//   momentum are equal bit for bit. With random floats the weights agree to 1e-4 relative and the
//   connections are equal (a drop decision could only flip between two weights within rounding of
//   each other, which these seeds do not produce).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include "test_helpers.h"
#include "wisp/kernels/rigl.h"

using namespace wisp;
using wisp::testing::require_close;
using wisp::testing::values;

namespace {

const Device kGpu = Device::cuda(0);

std::vector<int64_t> as_vector(const Tensor& t) { return t.to_vector<int64_t>(); }
std::vector<uint8_t> as_bytes(const Tensor& t) { return t.to_vector<uint8_t>(); }

// Positions o · in + i of a connectivity Int64 [2, nnz] (any device), in order.
std::vector<int64_t> positions_of(const Tensor& indices, int64_t in) {
  const std::vector<int64_t> index = indices.to_vector<int64_t>();
  const size_t nnz = index.size() / 2;
  std::vector<int64_t> positions(nnz);
  for (size_t k = 0; k < nnz; ++k) positions[k] = index[k] * in + index[nnz + k];
  return positions;
}

// Exact in float whatever the order of the sums: G entries are small integers.
Tensor small_integers(const Shape& shape) { return randint(-3, 4, shape, DType::Int64).to(DType::Float32); }

// |G| [out · in] in double, and Σ_r |g[r, o] · x[r, i]| (what bounds the rounding of G's sums).
struct DenseGradient {
  std::vector<double> magnitude, absolute_sum;
};
DenseGradient dense_gradient(const Tensor& grad_output, const Tensor& input) {
  const int64_t rows = grad_output.size(0), out = grad_output.size(1), in = input.size(1);
  const std::vector<float> g = values(grad_output), x = values(input);
  DenseGradient dense;
  dense.magnitude.resize(static_cast<size_t>(out * in));
  dense.absolute_sum.resize(static_cast<size_t>(out * in));
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) {
      double sum = 0, absolute = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const double term = double(g[size_t(r * out + o)]) * double(x[size_t(r * in + i)]);
        sum += term;
        absolute += std::fabs(term);
      }
      dense.magnitude[size_t(o * in + i)] = std::fabs(sum);
      dense.absolute_sum[size_t(o * in + i)] = absolute;
    }
  return dense;
}

// CHECKs that two grow results (increasing positions, `count` each) agree up to near-ties: every
// position in one but not the other has a magnitude within `tolerance` of the boundary, the
// count-th largest magnitude among `candidates`.
void check_equal_up_to_near_ties(const std::vector<int64_t>& actual, const std::vector<int64_t>& expected,
                                 const std::vector<double>& magnitude, std::vector<int64_t> candidates, int64_t count,
                                 double tolerance) {
  REQUIRE(static_cast<int64_t>(actual.size()) == count);
  REQUIRE(static_cast<int64_t>(expected.size()) == count);
  CHECK(std::is_sorted(actual.begin(), actual.end()));
  CHECK(std::adjacent_find(actual.begin(), actual.end()) == actual.end());
  if (count == 0) return;
  std::nth_element(candidates.begin(), candidates.begin() + (count - 1), candidates.end(),
                   [&](int64_t a, int64_t b) { return magnitude[size_t(a)] > magnitude[size_t(b)]; });
  const double boundary = magnitude[size_t(candidates[size_t(count - 1)])];
  std::vector<int64_t> differing;
  std::set_symmetric_difference(actual.begin(), actual.end(), expected.begin(), expected.end(),
                                std::back_inserter(differing));
  for (int64_t p : differing) {
    INFO("position " << p << ": |G| " << magnitude[size_t(p)] << ", boundary " << boundary);
    CHECK(std::fabs(magnitude[size_t(p)] - boundary) <= tolerance);
  }
}

// Every position not held by a nonzero that stays.
std::vector<int64_t> free_positions(const kernels::SparseStructure& structure, const Tensor& indices,
                                    const std::vector<uint8_t>& drop) {
  const int64_t in = structure.in_features;
  const std::vector<int64_t> position = positions_of(indices, in);
  std::set<int64_t> kept;
  for (size_t k = 0; k < position.size(); ++k)
    if (!drop[k]) kept.insert(position[k]);
  std::vector<int64_t> free;
  for (int64_t p = 0; p < structure.out_features * in; ++p)
    if (!kept.count(p)) free.push_back(p);
  return free;
}

// Values with many exact ties of magnitude: multiples of 0.25 in [-1.25, 1.25] (zeros of both
// signs among them), a few random ones.
Tensor tied_values(int64_t n) {
  std::vector<float> v = values(randint(-5, 6, {n}, DType::Int64).to(DType::Float32) * 0.25);
  const std::vector<float> noise = values(randn({n}));
  for (size_t k = 0; k < v.size(); ++k) {
    if (k % 7 == 3) v[k] = noise[k];
    if (k % 11 == 5) v[k] = -0.0f;
  }
  return from_vector(v, {n});
}

}  // namespace

// ---- drop ------------------------------------------------------------------------------------------------

TEST_CASE("smallest_magnitude_mask on the GPU: the CPU's mask, ties by tie rank", "[cuda][rigl]") {
  manual_seed(21);
  for (int64_t n : {int64_t(1), int64_t(8), int64_t(1000), int64_t(300001), (int64_t(1) << 20) + 3}) {
    const Tensor v = tied_values(n), v_gpu = v.to(kGpu);
    for (int64_t count : {int64_t(0), int64_t(1), n / 3, n / 2 + 1, n - 1, n}) {
      if (count < 0 || count > n) continue;
      for (uint64_t seed : {0ull, 99ull}) {
        INFO("n " << n << ", count " << count << ", seed " << seed);
        const Tensor expected = kernels::smallest_magnitude_mask(v, count, seed);
        const Tensor actual = kernels::smallest_magnitude_mask(v_gpu, count, seed);
        CHECK(actual.device() == kGpu);
        const std::vector<uint8_t> mask = as_bytes(actual);
        CHECK(mask == as_bytes(expected));
        CHECK(std::accumulate(mask.begin(), mask.end(), int64_t(0)) == count);
      }
    }
  }
  // All equal (zeros): the choice is by tie rank alone, through every digit of the rank.
  const Tensor zeros_gpu = zeros({5000}).to(kGpu);
  for (int64_t count : {int64_t(1), int64_t(2500), int64_t(4999)})
    CHECK(as_bytes(kernels::smallest_magnitude_mask(zeros_gpu, count, 7)) ==
          as_bytes(kernels::smallest_magnitude_mask(zeros({5000}), count, 7)));
  // NaN sorts above every magnitude on both devices.
  const Tensor with_nan = from_vector<float>({std::nanf(""), 1.0f, -2.0f, 0.5f, INFINITY, 0.0f}, {6});
  for (int64_t count = 0; count <= 6; ++count)
    CHECK(as_bytes(kernels::smallest_magnitude_mask(with_nan.to(kGpu), count, 3)) ==
          as_bytes(kernels::smallest_magnitude_mask(with_nan, count, 3)));
  WISP_REQUIRE_ERROR(kernels::smallest_magnitude_mask(zeros_gpu, 5001), "expected a count in [0, 5000] but got 5001");
}

// ---- grow ------------------------------------------------------------------------------------------------

TEST_CASE("largest_absent_gradients on the GPU: exact on small integers, every tile size, count and index type",
          "[cuda][rigl]") {
  manual_seed(22);
  const auto [in, out, rows, sparsity] = GENERATE(table<int64_t, int64_t, int64_t, double>({{13, 17, 8, 0.7},
                                                                                            {40, 9, 3, 0.5},
                                                                                            {7, 50, 64, 0.9},
                                                                                            {100, 30, 1, 0.95},
                                                                                            {33, 33, 70, 0.0},
                                                                                            {130, 150, 17, 0.8},
                                                                                            {1, 1, 2, 0.0}}));
  nn::SparseLinear layer(in, out, nn::SparseLinearOptions().sparsity(sparsity));
  const int64_t nnz = layer.nnz();
  const Tensor indices = layer.weight().indices();
  const Tensor g = small_integers({rows, out}), x = small_integers({rows, in});
  const Tensor g_gpu = g.to(kGpu), x_gpu = x.to(kGpu);
  // A random half of the connections compete (dropped), the others stay.
  std::vector<uint8_t> drop;
  for (int64_t bit : as_vector(randint(0, 2, {nnz}, DType::Int64))) drop.push_back(static_cast<uint8_t>(bit));
  const Tensor drop_mask = from_vector(drop, {nnz}), drop_mask_gpu = drop_mask.to(kGpu);
  const int64_t staying = nnz - std::accumulate(drop.begin(), drop.end(), int64_t(0));
  const int64_t absent = in * out - staying;
  for (DType index_dtype : {DType::Int32, DType::Int64}) {
    const kernels::SparseStructure structure = kernels::make_sparse_structure(indices, out, in, index_dtype);
    const kernels::SparseStructure structure_gpu = structure.to(kGpu);
    for (int64_t count : {int64_t(0), int64_t(1), int64_t(5), nnz / 2, absent - 1, absent}) {
      if (count < 0 || count > absent) continue;
      for (uint64_t seed : {0ull, 31ull}) {
        const Tensor expected = kernels::largest_absent_gradients(g, x, structure, drop_mask, count, seed);
        for (int64_t tile : {int64_t(0), int64_t(1), int64_t(7), in * 3, 64 * in + 1, in * out}) {
          INFO("in " << in << ", out " << out << ", " << index_dtype << ", count " << count << ", seed " << seed
                     << ", tile_elements " << tile);
          const Tensor actual =
              kernels::largest_absent_gradients(g_gpu, x_gpu, structure_gpu, drop_mask_gpu, count, seed, tile);
          CHECK(actual.device() == kGpu);
          CHECK(as_vector(actual) == as_vector(expected));
        }
      }
    }
  }
  WISP_REQUIRE_ERROR(
      kernels::largest_absent_gradients(g_gpu, x_gpu, layer.structure().to(kGpu), drop_mask_gpu, absent + 1),
      "(the positions not kept) but got");
}

TEST_CASE("largest_absent_gradients on the GPU: random floats agree with the CPU up to near-ties", "[cuda][rigl]") {
  manual_seed(23);
  const auto [in, out, rows, scale] = GENERATE(table<int64_t, int64_t, int64_t, float>(
      {{300, 200, 64, 1.0f}, {97, 131, 7, 1e-3f}, {64, 500, 33, 1e3f}, {2000, 50, 2, 1.0f}, {513, 257, 130, 1.0f}}));
  nn::SparseLinear layer(in, out, nn::SparseLinearOptions().sparsity(0.9));
  const kernels::SparseStructure structure_gpu = layer.structure().to(kGpu);
  const Tensor g = randn({rows, out}) * scale, x = randn({rows, in}) * scale;
  const std::vector<uint8_t> none(static_cast<size_t>(layer.nnz()), 0);
  const Tensor none_dropped = from_vector(none, {layer.nnz()});
  const DenseGradient dense = dense_gradient(g, x);
  const double largest_sum = *std::max_element(dense.absolute_sum.begin(), dense.absolute_sum.end());
  const double tolerance = 4.0 * static_cast<double>(rows) * std::ldexp(1.0, -24) * largest_sum;
  const std::vector<int64_t> candidates = free_positions(layer.structure(), layer.weight().indices(), none);
  for (int64_t count : {int64_t(1), int64_t(100), layer.nnz() / 3, static_cast<int64_t>(candidates.size())}) {
    INFO("count " << count);
    const std::vector<int64_t> expected =
        as_vector(kernels::largest_absent_gradients(g, x, layer.structure(), none_dropped, count, 5));
    for (int64_t tile : {int64_t(0), int64_t(4096)}) {
      const std::vector<int64_t> actual = as_vector(kernels::largest_absent_gradients(
          g.to(kGpu), x.to(kGpu), structure_gpu, none_dropped.to(kGpu), count, 5, tile));
      check_equal_up_to_near_ties(actual, expected, dense.magnitude, candidates, count, tolerance);
    }
  }
}

TEST_CASE("largest_absent_gradients on the GPU: NaN gradients never grow", "[cuda][rigl]") {
  manual_seed(24);
  nn::SparseLinear layer(20, 30, nn::SparseLinearOptions().sparsity(0.8));
  const Tensor none_dropped = zeros({layer.nnz()}, DType::UInt8);
  Tensor x = small_integers({5, 20});
  x.data<float>()[3] = std::nanf("");  // input 3 of the first sample: every G[o, 3] is NaN
  const Tensor g = small_integers({5, 30});
  const kernels::SparseStructure structure_gpu = layer.structure().to(kGpu);
  for (int64_t count : {int64_t(1), int64_t(200), int64_t(20 * 30 - layer.nnz() - 30)}) {
    INFO("count " << count);
    CHECK(as_vector(
              kernels::largest_absent_gradients(g.to(kGpu), x.to(kGpu), structure_gpu, none_dropped.to(kGpu), count)) ==
          as_vector(kernels::largest_absent_gradients(g, x, layer.structure(), none_dropped, count)));
  }
  // More than the positions with a gradient: the GPU says so (30 of the free positions are NaN).
  WISP_REQUIRE_ERROR(kernels::largest_absent_gradients(g.to(kGpu), x.to(kGpu), structure_gpu, none_dropped.to(kGpu),
                                                       20 * 30 - layer.nnz()),
                     "positions not kept with a gradient that is not NaN");
}

TEST_CASE("largest_absent_gradients on the GPU: all-equal gradients are chosen by tie rank like the CPU",
          "[cuda][rigl]") {
  manual_seed(25);
  nn::SparseLinear layer(60, 50, nn::SparseLinearOptions().sparsity(0.5));
  const Tensor none_dropped = zeros({layer.nnz()}, DType::UInt8);
  const kernels::SparseStructure structure_gpu = layer.structure().to(kGpu);
  const Tensor g = randn({4, 50}), x = zeros({4, 60});  // G = 0 everywhere: every free position ties
  const int64_t absent = 60 * 50 - layer.nnz();
  for (uint64_t seed : {0ull, 4ull}) {
    for (int64_t count : {int64_t(1), int64_t(40), absent / 2, absent - 1, absent}) {
      INFO("seed " << seed << ", count " << count);
      CHECK(as_vector(kernels::largest_absent_gradients(g.to(kGpu), x.to(kGpu), structure_gpu, none_dropped.to(kGpu),
                                                        count, seed, 100)) ==
            as_vector(kernels::largest_absent_gradients(g, x, layer.structure(), none_dropped, count, seed, 100)));
    }
  }
  // An empty batch: G = 0 as well.
  CHECK(as_vector(kernels::largest_absent_gradients(zeros({0, 50}).to(kGpu), zeros({0, 60}).to(kGpu), structure_gpu,
                                                    none_dropped.to(kGpu), 77, 9)) ==
        as_vector(
            kernels::largest_absent_gradients(zeros({0, 50}), zeros({0, 60}), layer.structure(), none_dropped, 77, 9)));
}

// ---- rewire, gather ----------------------------------------------------------------------------------------

TEST_CASE("rewire_connections on the GPU: the CPU's merge, sources and count of new connections", "[cuda][rigl]") {
  manual_seed(26);
  const auto [in, out, sparsity] =
      GENERATE(table<int64_t, int64_t, double>({{13, 17, 0.7}, {300, 200, 0.95}, {8, 8, 0.0}, {1, 5, 0.4}}));
  nn::SparseLinear layer(in, out, nn::SparseLinearOptions().sparsity(sparsity));
  const int64_t nnz = layer.nnz();
  const Tensor x = small_integers({6, in}), g = small_integers({6, out});
  for (DType index_dtype : {DType::Int32, DType::Int64}) {
    const kernels::SparseStructure structure =
        kernels::make_sparse_structure(layer.weight().indices(), out, in, index_dtype);
    const kernels::SparseStructure structure_gpu = structure.to(kGpu);
    for (int64_t count : {int64_t(0), int64_t(1), nnz / 3, nnz}) {
      INFO(index_dtype << ", count " << count);
      // A real update's drop and grow (the grown include regrown dropped nonzeros).
      const Tensor dropped = kernels::smallest_magnitude_mask(randn({nnz}), count, 1);
      const Tensor grown = kernels::largest_absent_gradients(g, x, structure, dropped, count, 1);
      const kernels::RewiredConnections expected = kernels::rewire_connections(structure, dropped, grown);
      const kernels::RewiredConnections actual =
          kernels::rewire_connections(structure_gpu, dropped.to(kGpu), grown.to(kGpu));
      CHECK(actual.indices.device() == kGpu);
      CHECK(as_vector(actual.indices) == as_vector(expected.indices));
      CHECK(as_vector(actual.source) == as_vector(expected.source));
      CHECK(actual.new_connections == expected.new_connections);
    }
  }
}

TEST_CASE("rewire_connections on the GPU: the CPU's checks of the grown positions", "[cuda][rigl]") {
  // A 3 x 4 matrix with connections at positions 1, 2, 5, 10 (rows 0, 0, 1, 2).
  const Tensor indices = from_vector<int64_t>({0, 0, 1, 2, 1, 2, 1, 2}, {2, 4});
  const kernels::SparseStructure structure = kernels::make_sparse_structure(indices, 3, 4).to(kGpu);
  const Tensor dropped = from_vector<uint8_t>({1, 0, 1, 0}, {4}).to(kGpu);  // positions 1 and 5
  const kernels::RewiredConnections rewired =
      kernels::rewire_connections(structure, dropped, from_vector<int64_t>({0, 5}, {2}).to(kGpu));
  CHECK(positions_of(rewired.indices, 4) == std::vector<int64_t>{0, 2, 5, 10});
  CHECK(as_vector(rewired.source) == std::vector<int64_t>{-1, 1, 2, 3});
  CHECK(rewired.new_connections == 1);
  const auto rewire = [&](std::vector<int64_t> grown) {
    const int64_t count = static_cast<int64_t>(grown.size());
    return kernels::rewire_connections(structure, dropped, from_vector(grown, {count}).to(kGpu));
  };
  WISP_REQUIRE_ERROR(rewire({2}), "grown position 2 (0, 2) is a nonzero that is not dropped");
  WISP_REQUIRE_ERROR(rewire({0, 3, 10}), "grown position 10 (2, 2) is a nonzero that is not dropped");
  WISP_REQUIRE_ERROR(rewire({5, 0}), "expected increasing grown positions, but 0 follows 5");
  WISP_REQUIRE_ERROR(rewire({0, 12}), "grown position 12 out of range [0, 12)");
  WISP_REQUIRE_ERROR(rewire({-1}), "grown position -1 out of range [0, 12)");
}

TEST_CASE("gather_or_zero_ on the GPU permutes and zeroes like the CPU", "[cuda][rigl]") {
  manual_seed(27);
  for (int64_t n : {int64_t(1), int64_t(1000), int64_t(100003)}) {
    const Tensor tensor = randn({n});
    std::vector<int64_t> source(static_cast<size_t>(n));
    std::iota(source.begin(), source.end(), int64_t(0));
    std::reverse(source.begin(), source.end());
    for (size_t j = 0; j < source.size(); j += 3) source[j] = -1;
    const Tensor source_tensor = from_vector(source, {n});
    const Tensor on_gpu = tensor.to(kGpu);
    kernels::gather_or_zero_(on_gpu, source_tensor.to(kGpu));
    kernels::gather_or_zero_(tensor, source_tensor);
    require_close(on_gpu.cpu(), tensor, 0.0f);
  }
  const Tensor on_gpu = from_vector<float>({10, 20, 30, 40}, {4}).to(kGpu);
  WISP_REQUIRE_ERROR(kernels::gather_or_zero_(on_gpu, from_vector<int64_t>({0, 9, 4, -1}, {4}).to(kGpu)),
                     "expected every source below the size 4 (negative: zero) but source[1] = 9");
  CHECK(on_gpu.cpu().to_vector<float>() == std::vector<float>{10, 20, 30, 40});  // unchanged by the refusal
}

// ---- a whole update, a trained layer ------------------------------------------------------------------------

TEST_CASE("rigl_update on the GPU: the CPU's connections, values and companions", "[cuda][rigl]") {
  manual_seed(28);
  const auto [in, out, rows, sparsity, fraction] = GENERATE(table<int64_t, int64_t, int64_t, double, double>(
      {{13, 17, 8, 0.7, 0.3}, {50, 20, 16, 0.9, 0.5}, {8, 8, 4, 0.5, 1.0}, {400, 300, 64, 0.95, 0.3}}));
  nn::SparseLinear cpu_layer(in, out, nn::SparseLinearOptions().sparsity(sparsity).seed(5));
  nn::SparseLinear gpu_layer(in, out, nn::SparseLinearOptions().sparsity(sparsity).seed(5));
  {
    NoGradGuard no_grad;
    gpu_layer.weights().copy_(cpu_layer.weights());
    gpu_layer.bias().copy_(cpu_layer.bias());
  }
  gpu_layer.to(kGpu);
  const int64_t nnz = cpu_layer.nnz(), count = static_cast<int64_t>(std::floor(fraction * double(nnz)));
  const Tensor companion = randn({nnz}), companion_gpu = companion.to(kGpu);
  const Tensor g = small_integers({rows, out}), x = small_integers({rows, in});
  const nn::RiglUpdate expected =
      nn::rigl_update(cpu_layer.weights(), cpu_layer.structure(), g, x, count, {companion}, 77);
  const nn::RiglUpdate actual =
      nn::rigl_update(gpu_layer.weights(), gpu_layer.structure(), g.to(kGpu), x.to(kGpu), count, {companion_gpu}, 77);
  CHECK(actual.dropped == expected.dropped);
  CHECK(actual.moved == expected.moved);
  CHECK(as_vector(gpu_layer.weight().indices()) == as_vector(cpu_layer.weight().indices()));
  require_close(gpu_layer.weights().cpu(), cpu_layer.weights(), 0.0f);
  require_close(companion_gpu.cpu(), companion, 0.0f);
  // The rebuilt structure (CSR and CSC) computes the same layer on the GPU.
  const Tensor input = randn({5, in});
  const Tensor input_cpu = input.clone().set_requires_grad(true), input_gpu = input.to(kGpu).set_requires_grad(true);
  const Tensor y_cpu = cpu_layer(input_cpu), y_gpu = gpu_layer(input_gpu);
  require_close(y_gpu.cpu(), y_cpu, 1e-5f);
  const Tensor upstream = randn(y_cpu.shape());
  y_cpu.backward(upstream);
  y_gpu.backward(upstream.to(kGpu));
  require_close(input_gpu.grad().cpu(), input_cpu.grad(), 1e-5f);
}

TEST_CASE("SparseLinear dynamic on the GPU: SGD momentum training rewires like the CPU", "[cuda][rigl]") {
  manual_seed(29);
  // exact: small integers with lr 1/8 and momentum 1/2 (every step exact: bit-for-bit equality);
  // otherwise random floats with lr 0.1 and momentum 0.9 (weights to 1e-4).
  const auto [in, out, rows, sparsity, exact] = GENERATE(table<int64_t, int64_t, int64_t, double, bool>(
      {{30, 20, 8, 0.8, true}, {30, 20, 8, 0.8, false}, {300, 200, 64, 0.9, true}, {300, 200, 64, 0.9, false}}));
  INFO("in " << in << ", out " << out << ", exact " << exact);
  const auto options = [&] {
    return nn::SparseLinearOptions().sparsity(sparsity).dynamic(true).delta_t(3).t_end(9).alpha(0.5).seed(8);
  };
  nn::SparseLinear cpu_layer(in, out, options()), gpu_layer(in, out, options());
  {
    NoGradGuard no_grad;
    gpu_layer.weights().copy_(cpu_layer.weights());
    gpu_layer.bias().copy_(cpu_layer.bias());
  }
  gpu_layer.to(kGpu);
  const double lr = exact ? 0.125 : 0.1, momentum = exact ? 0.5 : 0.9;
  optim::SGD cpu_sgd(cpu_layer.parameters(), optim::SGDOptions(lr).momentum(momentum));
  optim::SGD gpu_sgd(gpu_layer.parameters(), optim::SGDOptions(lr).momentum(momentum));
  const float tolerance = exact ? 0.0f : 1e-4f;
  for (int64_t step = 1; step <= 12; ++step) {
    INFO("step " << step);
    const Tensor x = exact ? small_integers({rows, in}) : randn({rows, in});
    const Tensor upstream = exact ? small_integers({rows, out}) : randn({rows, out});
    (cpu_layer(x) * upstream).sum().backward();  // grad_output = upstream
    (gpu_layer(x.to(kGpu)) * upstream.to(kGpu)).sum().backward();
    cpu_sgd.step();
    gpu_sgd.step();
    REQUIRE(gpu_layer.rigl_statistics().updates == cpu_layer.rigl_statistics().updates);
    CHECK(gpu_layer.rigl_statistics().moved == cpu_layer.rigl_statistics().moved);
    REQUIRE(as_vector(gpu_layer.weight().indices()) == as_vector(cpu_layer.weight().indices()));
    require_close(gpu_layer.weights().cpu(), cpu_layer.weights(), tolerance);
    require_close(gpu_sgd.momentum_buffer(gpu_layer.weights()).cpu(), cpu_sgd.momentum_buffer(cpu_layer.weights()),
                  tolerance);
    require_close(gpu_layer.bias().cpu(), cpu_layer.bias(), tolerance);
    cpu_sgd.zero_grad();
    gpu_sgd.zero_grad();
  }
  CHECK(gpu_layer.rigl_statistics().updates == 3);  // steps 3, 6, 9
  CHECK(gpu_layer.rigl_statistics().moved > 0);
}
