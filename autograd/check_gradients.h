// A public gradient checker: compares the tape's gradients with central finite differences.
//
//   auto result = autograd::check_gradients(
//       [](const std::vector<Tensor>& in) { return layer_norm(in[0], {4}, in[1], in[2]); },
//       {randn({3, 4}), randn({4}), randn({4})});
//   if (!result) std::cerr << result.message;
//
// The output (any shape) is reduced to a scalar L = Σ output ⊙ R with fixed random weights R in
// [-1, 1]; the analytic dL/dx comes from backward(R), the numeric one from (L(x+ε) − L(x−ε)) / 2ε
// per element, with L accumulated in double precision. The function is evaluated in float32, so ε
// must be large enough for float32 round-off (the defaults suit values of order 1). Keep inputs
// away from kinks (ReLU at 0, ties in max) where the derivative does not exist.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "wisp/core/tensor.h"

namespace wisp::autograd {

struct GradientCheckOptions {
  double epsilon = 5e-3;             // finite-difference step
  double absolute_tolerance = 2e-3;  // pass when |analytic − numeric| ≤ atol + rtol·|numeric|
  double relative_tolerance = 1e-2;
  uint64_t seed = 0;  // for the projection weights R (the default generator is not touched)
};

struct GradientCheckResult {
  bool ok = true;
  std::string message;       // the first mismatches (input, element, analytic, numeric), or "ok"
  double max_abs_error = 0;  // largest |analytic − numeric| over all checked elements
  int64_t checked_elements = 0;
  explicit operator bool() const { return ok; }
};

// Checks the gradient of `function` with respect to every float32 input (other inputs, such as
// Int64 targets, are passed through unchanged). The inputs are copied into fresh leaves, so the
// caller's tensors are not modified. Inputs must be CPU tensors.
GradientCheckResult check_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& function,
                                    const std::vector<Tensor>& inputs,
                                    const GradientCheckOptions& options = GradientCheckOptions());

}  // namespace wisp::autograd
