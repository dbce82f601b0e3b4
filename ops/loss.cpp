// softmax, log_softmax and the losses with autograd: cross_entropy (fused log-softmax + negative log
// likelihood) and mse_loss. Kernels in kernels/loss.h.
#include <limits>

#include "wisp/autograd/tape.h"
#include "wisp/kernels/elementwise.h"
#include "wisp/kernels/loss.h"
#include "wisp/kernels/reduce.h"
#include "wisp/ops/loss.h"

namespace wisp {
namespace {

// 1 / count for a mean, 1 for a sum or no reduction. The mean of nothing is NaN, as in PyTorch.
double reduction_scale(Reduction reduction, int64_t count) {
  if (reduction != Reduction::Mean) return 1.0;
  return count > 0 ? 1.0 / static_cast<double>(count) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

Tensor softmax(const Tensor& input, int64_t dim) {
  check_dtype("softmax", "input", input, DType::Float32);
  // A 0-dimensional tensor is one row of one element (dim 0 or -1), as in PyTorch.
  const int64_t normalized_dim = normalize_dim(dim, input.dim() > 0 ? input.dim() : 1, "softmax");
  Tensor output = kernels::softmax_forward(input, normalized_dim);
  if (!autograd::needs_recording({input})) return output;
  // Saved: the output's values, as a detached handle.
  Tensor saved_output = output.detach();
  return autograd::record("SoftmaxBackward", output, {input},
                          [saved_output, normalized_dim](const Tensor& grad_output) -> std::vector<Tensor> {
                            return {kernels::softmax_backward(grad_output, saved_output, normalized_dim)};
                          },
                          {saved_output});
}

Tensor Tensor::softmax(int64_t dim) const { return wisp::softmax(*this, dim); }

Tensor log_softmax(const Tensor& input, int64_t dim) {
  check_dtype("log_softmax", "input", input, DType::Float32);
  // A 0-dimensional tensor is one row of one element (dim 0 or -1), as in PyTorch.
  const int64_t normalized_dim = normalize_dim(dim, input.dim() > 0 ? input.dim() : 1, "log_softmax");
  Tensor output = kernels::log_softmax_forward(input, normalized_dim);
  if (!autograd::needs_recording({input})) return output;
  // Saved: the output's values (softmax = exp(output)), as a detached handle.
  Tensor saved_output = output.detach();
  return autograd::record("LogSoftmaxBackward", output, {input},
                          [saved_output, normalized_dim](const Tensor& grad_output) -> std::vector<Tensor> {
                            return {kernels::log_softmax_backward(grad_output, saved_output, normalized_dim)};
                          },
                          {saved_output});
}

Tensor Tensor::log_softmax(int64_t dim) const { return wisp::log_softmax(*this, dim); }

Tensor cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_dtype("cross_entropy", "input", input, DType::Float32);
  check_dtype("cross_entropy", "target", target, DType::Int64);
  check_same_device("cross_entropy", input, target);
  WISP_CHECK(input.dim() == 1 || input.dim() == 2,
             "cross_entropy: expected input (logits) of shape [N, C] or [C] but got shape ", input.shape());
  const Shape expected_target_shape = input.dim() == 2 ? Shape{input.size(0)} : Shape{};
  WISP_CHECK(target.shape() == expected_target_shape, "cross_entropy: expected target of shape ", expected_target_shape,
             " for input of shape ", input.shape(), " but got ", target.shape());

  // The kernels see [N, C] logits and [N] targets; a single sample [C] is one row.
  const int64_t classes = input.size(-1);
  const int64_t rows = input.dim() == 2 ? input.size(0) : 1;
  Tensor logits = input.detach().view({rows, classes});
  Tensor targets = target.detach().view({rows});
  kernels::CrossEntropyForward forward = kernels::cross_entropy_forward(logits, targets);

  const double scale = reduction_scale(reduction, rows);
  Tensor loss;
  if (reduction == Reduction::None) {
    loss = forward.loss.view(target.shape());
  } else {
    loss = kernels::sum_all(forward.loss);
    if (reduction == Reduction::Mean) loss = kernels::binary_scalar(kernels::BinaryOp::Mul, loss, scale);
  }
  if (!autograd::needs_recording({input})) return loss;

  // Saved: the logits and targets (detached handles) and the per-row max and log-sum-exp, from
  // which backward recomputes the softmax.
  const Shape input_shape = input.shape();
  Tensor max_logit = forward.max_logit, log_sum = forward.log_sum;
  return autograd::record(
      "CrossEntropyBackward", loss, {input},
      [logits, targets, max_logit, log_sum, scale, input_shape](const Tensor& grad_output) -> std::vector<Tensor> {
        Tensor grad_logits = kernels::cross_entropy_backward(grad_output, logits, targets, max_logit, log_sum, scale);
        return {grad_logits.view(input_shape)};
      },
      {logits, targets});
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_dtype("mse_loss", "input", input, DType::Float32);
  check_dtype("mse_loss", "target", target, DType::Float32);
  check_same_device("mse_loss", input, target);
  WISP_CHECK(input.shape() == target.shape(), "mse_loss: expected input and target of the same shape but got ",
             input.shape(), " and ", target.shape());

  const double scale = reduction_scale(reduction, input.numel());
  Tensor loss = reduction == Reduction::None ? kernels::squared_error(input, target)
                                             : kernels::squared_error_sum(input, target, scale);
  if (!autograd::needs_recording({input, target})) return loss;

  // Saved: input and target values (detached handles).
  const bool need_input = input.requires_grad(), need_target = target.requires_grad();
  Tensor saved_input = input.detach(), saved_target = target.detach();
  return autograd::record(
      "MseLossBackward", loss, {input, target},
      [saved_input, saved_target, scale, need_input, need_target](const Tensor& grad_output) -> std::vector<Tensor> {
        kernels::SquaredErrorGradients gradients =
            kernels::squared_error_backward(grad_output, saved_input, saved_target, scale, need_input, need_target);
        return {gradients.input, gradients.target};
      },
      {saved_input, saved_target});
}

}  // namespace wisp
