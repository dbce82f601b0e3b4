#include "wisp/autograd/check_gradients.h"

#include <cmath>
#include <sstream>

#include "wisp/autograd/grad_mode.h"
#include "wisp/core/random.h"

namespace wisp::autograd {
namespace {

double projected(const Tensor& output, const std::vector<float>& weights) {
  WISP_CHECK(output.dtype() == DType::Float32, "check_gradients: expected the function to return float32 but got ",
             output.dtype());
  const Tensor host = output.is_cpu() ? output : copy_to_device(output, Device::cpu());
  const float* values = static_cast<const float*>(host.raw_data());
  double total = 0;
  for (size_t i = 0; i < weights.size(); ++i) total += static_cast<double>(values[i]) * weights[i];
  return total;
}

}  // namespace

GradientCheckResult check_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& function,
                                    const std::vector<Tensor>& inputs, const GradientCheckOptions& options) {
  std::vector<Tensor> leaves;
  for (const Tensor& input : inputs) {
    WISP_CHECK(input.defined(), "check_gradients: expected defined input tensors");
    WISP_CHECK(input.is_cpu(), "check_gradients: expected CPU inputs but got one on ", input.device());
    Tensor leaf = copy_to_device(input, Device::cpu());
    if (input.dtype() == DType::Float32) leaf.set_requires_grad(true);
    leaves.push_back(leaf);
  }

  // Analytic gradients through the tape.
  Tensor output = function(leaves);
  WISP_CHECK(output.defined(), "check_gradients: the function returned an undefined tensor");
  WISP_CHECK(output.dtype() == DType::Float32, "check_gradients: expected the function to return float32 but got ",
             output.dtype());
  std::vector<float> weights(static_cast<size_t>(output.numel()));
  for (size_t i = 0; i < weights.size(); ++i)
    weights[i] = 2.0f * uniform_from_bits(random_bits(options.seed ^ 0xC0FFEEull, i)) - 1.0f;
  Tensor seed = empty(output.shape(), TensorOptions(DType::Float32).device(output.device()));
  copy_bytes(seed.raw_data(), seed.device(), weights.data(), Device::cpu(), weights.size() * sizeof(float));
  WISP_CHECK(output.requires_grad(),
             "check_gradients: the output does not depend on any float32 input through "
             "recorded ops (is gradient recording off?)");
  output.backward(seed);

  GradientCheckResult result;
  std::ostringstream report;
  int reported = 0;
  NoGradGuard no_grad;
  for (size_t k = 0; k < leaves.size(); ++k) {
    const Tensor& leaf = leaves[k];
    if (leaf.dtype() != DType::Float32) continue;
    const Tensor analytic_tensor = leaf.grad();
    float* x = leaf.data<float>();
    const float* analytic = analytic_tensor.defined() ? analytic_tensor.data<float>() : nullptr;
    for (int64_t j = 0; j < leaf.numel(); ++j) {
      const float original = x[j];
      // Each write is an in-place update: bumping the version tells caches keyed by it (the CSC-ordered
      // values of kernels/cpu/sparse_linear_skip_zeros.h) that the values changed.
      x[j] = static_cast<float>(original + options.epsilon);
      leaf.bump_version();
      const double plus = projected(function(leaves), weights);
      x[j] = static_cast<float>(original - options.epsilon);
      leaf.bump_version();
      const double minus = projected(function(leaves), weights);
      x[j] = original;
      leaf.bump_version();
      const double numeric = (plus - minus) / (2 * options.epsilon);
      const double computed = analytic ? analytic[j] : 0.0;
      const double error = std::fabs(computed - numeric);
      result.max_abs_error = std::max(result.max_abs_error, error);
      ++result.checked_elements;
      if (error > options.absolute_tolerance + options.relative_tolerance * std::fabs(numeric)) {
        result.ok = false;
        if (reported++ < 8) {
          report << "input " << k << " (shape " << leaf.shape() << ") element " << j << ": analytic " << computed
                 << (analytic ? "" : " (no gradient reached this input)") << ", numeric " << numeric << "\n";
        }
      }
    }
  }
  result.message =
      result.ok ? "ok"
                : "gradient mismatch (max abs error " + std::to_string(result.max_abs_error) + "):\n" + report.str();
  return result;
}

}  // namespace wisp::autograd
