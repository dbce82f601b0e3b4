// [cuda] The cuSPARSE forward that sparse_bench compares wisp's with (bench/cuda/cusparse.h, library
// wisp_bench_cusparse) against the CPU kernel: every SpMM algorithm in both activation layouts at
// batch 1, 33 and 64, every SpMV algorithm at batch 1, Int32 and Int64 indices, with and without
// bias. A pair that cuSPARSE refuses (supported() false) is reported and skipped; every pair it
// accepts must match.
// Tolerance 1e-4 relative: cuSPARSE sums the products in its own order (CSR_ALG2/3 split rows).
// Runs only with a GPU.
#include "wisp/bench/cuda/cusparse.h"

#include <vector>

#include "test_helpers.h"
#include "wisp/kernels/sparse_linear.h"

using namespace wisp;
using bench::CusparseAlgorithm;
using bench::CusparseLayout;
using wisp::testing::require_close;

namespace {
const Device kGpu = Device::cuda(0);
}  // namespace

TEST_CASE("cuSPARSE's SparseLinear forward matches the CPU kernel for every algorithm it accepts", "[cuda][cusparse]") {
  manual_seed(21);
  nn::SparseLinear layer(300, 200, nn::SparseLinearOptions().sparsity(0.95));
  const Tensor values = layer.weights().detach(), bias = layer.bias().detach();
  const std::vector<CusparseAlgorithm> spmm = {CusparseAlgorithm::SpmmDefault, CusparseAlgorithm::SpmmCsr1,
                                               CusparseAlgorithm::SpmmCsr2, CusparseAlgorithm::SpmmCsr3};
  const std::vector<CusparseAlgorithm> spmv = {CusparseAlgorithm::SpmvDefault, CusparseAlgorithm::SpmvCsr1,
                                               CusparseAlgorithm::SpmvCsr2};
  int accepted = 0;
  for (DType index_dtype : {DType::Int32, DType::Int64}) {
    const kernels::SparseStructure cpu_structure =
        kernels::make_sparse_structure(layer.weight().indices(), 200, 300, index_dtype);
    const kernels::SparseStructure gpu_structure = cpu_structure.to(kGpu);
    const Tensor gpu_values = values.to(kGpu), gpu_bias = bias.to(kGpu);
    for (int64_t rows : {1, 33, 64}) {
      const Tensor x = randn({rows, 300});
      const kernels::FeatureMajor x_cpu = kernels::to_feature_major(x);
      const kernels::FeatureMajor x_gpu = kernels::to_feature_major(x.to(kGpu));
      for (bool with_bias : {true, false}) {
        const Tensor expected =
            kernels::sparse_linear_forward(x_cpu, values, cpu_structure, with_bias ? bias : Tensor());
        std::vector<CusparseAlgorithm> algorithms = spmm;
        if (rows == 1) algorithms.insert(algorithms.end(), spmv.begin(), spmv.end());
        for (CusparseAlgorithm algorithm : algorithms) {
          for (CusparseLayout layout : {CusparseLayout::BatchMajor, CusparseLayout::FeatureMajor}) {
            if (bench::is_spmv(algorithm) && layout == CusparseLayout::FeatureMajor) continue;
            INFO(bench::name(algorithm) << ", " << bench::name(layout) << ", rows " << rows << ", index " << index_dtype
                                        << ", bias " << with_bias);
            bench::CusparseSparseLinearPlan plan(gpu_values, gpu_structure, rows, algorithm, layout);
            if (!plan.supported()) {
              WARN("cuSPARSE refused " << bench::name(algorithm) << " / " << bench::name(layout) << ": "
                                       << plan.why_unsupported());
              continue;
            }
            Tensor output = empty({rows, 200}, TensorOptions(DType::Float32).device(kGpu));
            const Tensor input = layout == CusparseLayout::BatchMajor ? x.to(kGpu) : x_gpu.data;
            plan.run(input, with_bias ? gpu_bias : Tensor(), output);
            require_close(output.cpu(), expected, 1e-4f);
            plan.run(input, with_bias ? gpu_bias : Tensor(), output);  // a second run of the same plan
            require_close(output.cpu(), expected, 1e-4f);
            ++accepted;
          }
        }
      }
    }
  }
  CHECK(accepted > 0);  // at least the default algorithm must be accepted
}

TEST_CASE("cuSPARSE's one-call forwards match the CPU kernel", "[cuda][cusparse]") {
  manual_seed(22);
  nn::SparseLinear layer(120, 90, nn::SparseLinearOptions().sparsity(0.9));
  const Tensor values = layer.weights().detach(), bias = layer.bias().detach();
  const kernels::SparseStructure cpu_structure = layer.structure();
  const kernels::SparseStructure gpu_structure = cpu_structure.to(kGpu);
  for (int64_t rows : {1, 17}) {
    const Tensor x = randn({rows, 120});
    const Tensor expected = kernels::sparse_linear_forward(kernels::to_feature_major(x), values, cpu_structure, bias);
    Tensor output = empty({rows, 90}, TensorOptions(DType::Float32).device(kGpu));
    bench::cusparse_sparse_linear_forward(kernels::to_feature_major(x.to(kGpu)), values.to(kGpu), gpu_structure,
                                          bias.to(kGpu), output);
    require_close(output.cpu(), expected, 1e-4f);
    require_close(
        bench::cusparse_sparse_linear_forward(x.to(kGpu), values.to(kGpu), gpu_structure, bias.to(kGpu)).cpu(),
        expected, 1e-4f);
  }
  const Tensor vector = randn({120});
  require_close(
      bench::cusparse_sparse_linear_forward(vector.to(kGpu), values.to(kGpu), gpu_structure, bias.to(kGpu)).cpu(),
      kernels::sparse_linear_forward(kernels::to_feature_major(vector.reshape({1, 120})), values, cpu_structure, bias)
          .reshape({90}),
      1e-4f);
}
