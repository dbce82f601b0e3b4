// nn::utils::clip_grad_norm_ (PyTorch's torch.nn.utils.clip_grad_norm_). It lives in optim/, beside
// the optimizers it prepares gradients for, under PyTorch's name.
#pragma once

#include <vector>

#include "wisp/core/tensor.h"

namespace wisp::nn::utils {

// Scales the gradients of `parameters` in place so that their total norm is at most max_norm, as
// torch.nn.utils.clip_grad_norm_ (PyTorch 1.13): the total norm is the norm_type-norm of all the
// gradients taken as one vector (norm_type = infinity: the largest magnitude); parameters without a
// gradient are skipped. When max_norm / (total + 1e-6) < 1 every gradient is multiplied by that
// factor. Returns the total norm (0 when no parameter has a gradient).
//
// A non-finite total norm (a gradient holds inf or NaN) is returned as it is, never hidden; with
// error_if_nonfinite it throws wisp::Error instead, leaving the gradients alone. Without it the
// gradients are scaled as PyTorch does: by 0 for an infinite norm, by NaN for a NaN norm.
//
// The 2-norm is computed by kernels on the gradients' device; other norm types read the gradients
// on the host.
double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

}  // namespace wisp::nn::utils
