#include "cusparse_cases.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "timing.h"
#include "wisp/bench/cuda/cusparse.h"
#include "wisp/kernels/sparse_linear.h"  // kernels::to_feature_major
#include "wisp/wisp.h"

namespace wisp::sparse_bench {
namespace {

using bench::CusparseAlgorithm;
using bench::CusparseLayout;

// max |a - b| over the elements of two tensors with the same number of elements (any device), and
// max |b|, for a tolerance relative to the result's size.
struct Difference {
  double max_abs = 0, reference_max_abs = 0;
};
Difference compare(const Tensor& a, const Tensor& reference) {
  const std::vector<float> values = a.to_vector<float>(), expected = reference.to_vector<float>();
  WISP_CHECK(values.size() == expected.size(), "sparse_bench: expected ", expected.size(), " outputs but got ",
             values.size());
  Difference difference;
  for (size_t i = 0; i < values.size(); ++i) {
    difference.max_abs = std::max(difference.max_abs, std::abs(static_cast<double>(values[i]) - expected[i]));
    difference.reference_max_abs = std::max(difference.reference_max_abs, std::abs(static_cast<double>(expected[i])));
  }
  return difference;
}

struct CusparseCase {
  CusparseAlgorithm algorithm;
  CusparseLayout layout;
};

// Every SpMM algorithm in both layouts; at batch 1 every SpMV algorithm too.
std::vector<CusparseCase> cases_for(int64_t batch) {
  std::vector<CusparseCase> cases;
  for (CusparseLayout layout : {CusparseLayout::BatchMajor, CusparseLayout::FeatureMajor})
    for (CusparseAlgorithm algorithm : {CusparseAlgorithm::SpmmDefault, CusparseAlgorithm::SpmmCsr1,
                                        CusparseAlgorithm::SpmmCsr2, CusparseAlgorithm::SpmmCsr3})
      cases.push_back({algorithm, layout});
  if (batch == 1)
    for (CusparseAlgorithm algorithm :
         {CusparseAlgorithm::SpmvDefault, CusparseAlgorithm::SpmvCsr1, CusparseAlgorithm::SpmvCsr2})
      cases.push_back({algorithm, CusparseLayout::BatchMajor});
  return cases;
}

}  // namespace

bool add_cusparse_rows(Results& results, nn::SparseLinear& sparse, const Tensor& x, int64_t batch, int reps,
                       int warmups) {
  const Device device = x.device();
  const int64_t n = sparse.in_features();
  Tensor reference;
  {
    NoGradGuard no_grad;
    reference = sparse(x);
  }
  const Tensor x_rows = x.detach().view({batch, n});
  bool agreed = true;
  double best_ms = -1;
  for (const CusparseCase& c : cases_for(batch)) {
    const std::string label = "cusparse_" + std::string(bench::name(c.algorithm)) +
                              (bench::is_spmv(c.algorithm) ? "" : "_" + std::string(bench::name(c.layout)));
    try {
      bench::CusparseSparseLinearPlan plan(sparse.weights().detach(), sparse.structure(), batch, c.algorithm, c.layout);
      if (!plan.supported()) {
        results.note(label + " at batch " + std::to_string(batch) + ": not supported (" + plan.why_unsupported() + ")");
        continue;
      }
      const Tensor output = empty({batch, n}, TensorOptions(DType::Float32).device(device));
      const Tensor bias = sparse.bias().defined() ? sparse.bias().detach() : Tensor();
      const auto run_case = [&] {
        if (c.layout == CusparseLayout::BatchMajor) {
          plan.run(x_rows, bias, output);
        } else {  // the input's transposition is part of the forward, as in wisp's layer
          const kernels::FeatureMajor input = kernels::to_feature_major(x_rows);
          plan.run(input.data, bias, output);
        }
      };
      run_case();
      const Difference difference = compare(output, reference);
      // Both sum the same products in different orders: float rounding, far below this.
      const double tolerance = 1e-4 * std::max(1.0, difference.reference_max_abs);
      results.add(label + "_max_difference", batch, difference.max_abs, "abs");
      if (difference.max_abs > tolerance) {
        agreed = false;
        results.note(label + " at batch " + std::to_string(batch) + ": max |cuSPARSE - wisp| " +
                     std::to_string(difference.max_abs) + ", expected at most " + std::to_string(tolerance));
      }
      const Timing t = time_runs(reps, run_case, device, warmups);
      results.add(label + "_forward", batch, t.median_ms, "ms");
      if (best_ms < 0 || t.median_ms < best_ms) best_ms = t.median_ms;
    } catch (const Error& error) {
      results.note(label + " at batch " + std::to_string(batch) + ": failed: " + error.what());
    }
  }
  if (best_ms >= 0) results.add("cusparse_best_forward", batch, best_ms, "ms");
  return agreed;
}

}  // namespace wisp::sparse_bench
