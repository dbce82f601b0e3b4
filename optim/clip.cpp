#include "wisp/optim/clip.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "wisp/autograd/grad_mode.h"
#include "wisp/kernels/elementwise.h"
#include "wisp/kernels/reduce.h"

namespace wisp::nn::utils {
namespace {

// The norm_type-norm of one gradient, in double.
double gradient_norm(const Tensor& gradient, double norm_type) {
  if (norm_type == 2.0) {
    const Tensor squares = kernels::binary(kernels::BinaryOp::Mul, gradient, gradient);
    return std::sqrt(static_cast<double>(kernels::sum_all(squares).item<float>()));
  }
  const std::vector<float> values = gradient.to_vector<float>();
  if (std::isinf(norm_type)) {
    double largest = 0;
    for (float value : values) {
      if (std::isnan(value)) return std::numeric_limits<double>::quiet_NaN();
      largest = std::max(largest, static_cast<double>(std::abs(value)));
    }
    return largest;
  }
  double total = 0;
  for (float value : values) total += std::pow(std::abs(static_cast<double>(value)), norm_type);
  return std::pow(total, 1.0 / norm_type);
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  WISP_CHECK(norm_type > 0, "clip_grad_norm_: expected norm_type > 0 (or infinity) but got ", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> gradients;
  for (const Tensor& parameter : parameters)
    if (parameter.grad().defined()) gradients.push_back(parameter.grad());
  if (gradients.empty()) return 0.0;

  // The norm of the per-gradient norms is the norm of all gradients as one vector.
  double total_norm = 0;
  if (std::isinf(norm_type)) {
    for (const Tensor& gradient : gradients) {
      const double norm = gradient_norm(gradient, norm_type);
      total_norm = std::isnan(norm) || std::isnan(total_norm) ? std::numeric_limits<double>::quiet_NaN()
                                                              : std::max(total_norm, norm);
    }
  } else {
    for (const Tensor& gradient : gradients) total_norm += std::pow(gradient_norm(gradient, norm_type), norm_type);
    total_norm = std::pow(total_norm, 1.0 / norm_type);
  }
  WISP_CHECK(!error_if_nonfinite || std::isfinite(total_norm), "clip_grad_norm_: the total norm of order ", norm_type,
             " of the gradients is ", total_norm,
             ", so they cannot be clipped (error_if_nonfinite = false scales them by it anyway)");

  const double clip_factor = max_norm / (total_norm + 1e-6);
  // Multiplying by a factor clamped to 1 changes nothing, so only smaller factors (and NaN) are applied.
  if (!(clip_factor >= 1.0))
    for (const Tensor& gradient : gradients) {
      kernels::binary_scalar_(kernels::BinaryOp::Mul, gradient, clip_factor);
      gradient.bump_version();
    }
  return total_norm;
}

}  // namespace wisp::nn::utils
