#include "wisp/kernels/loss.h"

#include "wisp/kernels/cpu/loss.h"
#include "wisp/kernels/dispatch.h"
#if WISP_WITH_CUDA
#include "wisp/kernels/cuda/loss.h"
#endif

namespace wisp::kernels {
namespace {

TensorOptions float_options(const Tensor& like) { return TensorOptions(DType::Float32).device(like.device()); }

// input and target: float32, one shape, one device.
void check_squared_error_operands(const char* op, const Tensor& input, const Tensor& target) {
  check_same_device(op, input, target);
  check_dtype(op, "input", input, DType::Float32);
  check_operand(op, "target", target, DType::Float32, input.shape());
}

}  // namespace

Tensor log_softmax_forward(const Tensor& input, int64_t dim) {
  check_dtype("log_softmax", "input", input, DType::Float32);
  const DimensionSplit split = split_at(input.shape(), dim);
  Tensor output = empty(input.shape(), float_options(input));
  dispatch(
      "log_softmax", input, [&] { cpu::log_softmax_forward(input, split.outer, split.size, split.inner, output); },
      WISP_CUDA_TWIN(cuda::log_softmax_forward(input, split.outer, split.size, split.inner, output)));
  return output;
}

Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t dim) {
  check_same_device("log_softmax backward", output, grad_output);
  check_dtype("log_softmax backward", "output", output, DType::Float32);
  check_dtype("log_softmax backward", "gradient", grad_output, DType::Float32);
  WISP_CHECK(grad_output.shape() == output.shape(), "log_softmax backward: expected a gradient of shape ",
             output.shape(), " but got ", grad_output.shape());
  const DimensionSplit split = split_at(output.shape(), dim);
  Tensor grad_input = empty(output.shape(), float_options(output));
  dispatch(
      "log_softmax backward", output,
      [&] { cpu::log_softmax_backward(grad_output, output, split.outer, split.size, split.inner, grad_input); },
      WISP_CUDA_TWIN(
          cuda::log_softmax_backward(grad_output, output, split.outer, split.size, split.inner, grad_input)));
  return grad_input;
}

Tensor softmax_forward(const Tensor& input, int64_t dim) {
  check_dtype("softmax", "input", input, DType::Float32);
  const DimensionSplit split = split_at(input.shape(), dim);
  Tensor output = empty(input.shape(), float_options(input));
  dispatch(
      "softmax", input, [&] { cpu::softmax_forward(input, split.outer, split.size, split.inner, output); },
      WISP_CUDA_TWIN(cuda::softmax_forward(input, split.outer, split.size, split.inner, output)));
  return output;
}

Tensor softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t dim) {
  check_same_device("softmax backward", output, grad_output);
  check_dtype("softmax backward", "output", output, DType::Float32);
  check_operand("softmax backward", "gradient", grad_output, DType::Float32, output.shape());
  const DimensionSplit split = split_at(output.shape(), dim);
  Tensor grad_input = empty(output.shape(), float_options(output));
  dispatch(
      "softmax backward", output,
      [&] { cpu::softmax_backward(grad_output, output, split.outer, split.size, split.inner, grad_input); },
      WISP_CUDA_TWIN(cuda::softmax_backward(grad_output, output, split.outer, split.size, split.inner, grad_input)));
  return grad_input;
}

CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& target) {
  check_same_device("cross_entropy", logits, target);
  WISP_CHECK(logits.dim() == 2 && target.dim() == 1 && target.size(0) == logits.size(0),
             "cross_entropy: expected logits [N, C] and target [N] but got ", logits.shape(), " and ", target.shape());
  check_dtype("cross_entropy", "logits", logits, DType::Float32);
  check_dtype("cross_entropy", "target", target, DType::Int64);
  const int64_t rows = logits.size(0), classes = logits.size(1);
  CrossEntropyForward result;
  result.loss = empty({rows}, float_options(logits));
  result.max_logit = empty({rows}, float_options(logits));
  result.log_sum = empty({rows}, float_options(logits));
  dispatch(
      "cross_entropy", logits,
      [&] { cpu::cross_entropy_forward(logits, target, rows, classes, result.loss, result.max_logit, result.log_sum); },
      WISP_CUDA_TWIN(
          cuda::cross_entropy_forward(logits, target, rows, classes, result.loss, result.max_logit, result.log_sum)));
  return result;
}

Tensor cross_entropy_backward(const Tensor& grad_output, const Tensor& logits, const Tensor& target,
                              const Tensor& max_logit, const Tensor& log_sum, double scale) {
  constexpr const char* op = "cross_entropy backward";
  check_same_device(op, logits, grad_output);
  check_dtype(op, "logits", logits, DType::Float32);
  WISP_CHECK(logits.dim() == 2, op, ": expected logits [N, C] but got shape ", logits.shape());
  const int64_t rows = logits.size(0), classes = logits.size(1);
  check_dtype(op, "gradient", grad_output, DType::Float32);
  WISP_CHECK(grad_output.numel() == 1 || grad_output.numel() == rows,
             "cross_entropy backward: expected a gradient "
             "with 1 or ",
             rows, " elements but got shape ", grad_output.shape());
  check_operand(op, "target", target, DType::Int64, {rows});
  check_operand(op, "max_logit", max_logit, DType::Float32, {rows});
  check_operand(op, "log_sum", log_sum, DType::Float32, {rows});
  for (const Tensor* saved : {&target, &max_logit, &log_sum}) check_same_device(op, logits, *saved);
  Tensor grad_logits = empty(logits.shape(), float_options(logits));
  dispatch(
      "cross_entropy backward", logits,
      [&] {
        cpu::cross_entropy_backward(grad_output, logits, target, max_logit, log_sum, scale, rows, classes, grad_logits);
      },
      WISP_CUDA_TWIN(cuda::cross_entropy_backward(grad_output, logits, target, max_logit, log_sum, scale, rows, classes,
                                                  grad_logits)));
  return grad_logits;
}

Tensor squared_error(const Tensor& input, const Tensor& target) {
  check_squared_error_operands("mse_loss", input, target);
  Tensor output = empty(input.shape(), float_options(input));
  dispatch(
      "mse_loss", input, [&] { cpu::squared_error(input, target, output); },
      WISP_CUDA_TWIN(cuda::squared_error(input, target, output)));
  return output;
}

Tensor squared_error_sum(const Tensor& input, const Tensor& target, double scale) {
  check_squared_error_operands("mse_loss", input, target);
  Tensor output = empty(Shape{}, float_options(input));
  dispatch(
      "mse_loss", input, [&] { cpu::squared_error_sum(input, target, scale, output); },
      WISP_CUDA_TWIN(cuda::squared_error_sum(input, target, scale, output)));
  return output;
}

SquaredErrorGradients squared_error_backward(const Tensor& grad_output, const Tensor& input, const Tensor& target,
                                             double scale, bool need_input, bool need_target) {
  check_same_device("mse_loss backward", input, grad_output);
  check_squared_error_operands("mse_loss backward", input, target);
  check_dtype("mse_loss backward", "gradient", grad_output, DType::Float32);
  WISP_CHECK(grad_output.numel() == 1 || grad_output.shape() == input.shape(),
             "mse_loss backward: expected a "
             "gradient of shape ",
             input.shape(), " or one element but got ", grad_output.shape());
  SquaredErrorGradients gradients;
  if (need_input) gradients.input = empty(input.shape(), float_options(input));
  if (need_target) gradients.target = empty(target.shape(), float_options(target));
  dispatch(
      "mse_loss backward", input,
      [&] { cpu::squared_error_backward(grad_output, input, target, scale, gradients.input, gradients.target); },
      WISP_CUDA_TWIN(
          cuda::squared_error_backward(grad_output, input, target, scale, gradients.input, gradients.target)));
  return gradients;
}

}  // namespace wisp::kernels
