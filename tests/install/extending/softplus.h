// A custom op: softplus with its own forward and backward loops.
#pragma once

#include <wisp/wisp.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace example {

// softplus(x) = log(1 + exp(beta * x)) / beta, elementwise, whose derivative is sigmoid(beta * x).
// x: float32 on the CPU (the loops read data<float>()), any shape; the result has x's shape.
inline wisp::Tensor softplus(const wisp::Tensor& x, double beta = 1.0) {
  WISP_CHECK(x.dtype() == wisp::DType::Float32 && x.is_cpu(), "softplus: expected a float32 CPU tensor but got ",
             x.dtype(), " on ", x.device());
  WISP_CHECK(beta > 0, "softplus: expected beta > 0 but got ", beta);
  return wisp::autograd::custom_op(
      "SoftplusBackward", {x},
      // The forward runs with recording off, on a detached x, and saves what the backward reads.
      [beta](wisp::autograd::CustomOpContext& context, const std::vector<wisp::Tensor>& inputs) {
        const wisp::Tensor& input = inputs[0];
        context.save_for_backward({input});
        wisp::Tensor output = wisp::zeros_like(input);
        const float* in = input.data<float>();
        float* out = output.data<float>();
        for (int64_t i = 0; i < input.numel(); ++i) {
          const double z = beta * in[i];  // max(z, 0) + log1p(exp(-|z|)) never overflows
          out[i] = static_cast<float>((std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z)))) / beta);
        }
        return output;
      },
      // The backward gets the output's gradient and returns one gradient per input, shaped like it.
      [beta](const wisp::autograd::CustomOpContext& context,
             const wisp::Tensor& grad_output) -> std::vector<wisp::Tensor> {
        const wisp::Tensor& input = context.saved()[0];
        wisp::Tensor grad_input = wisp::zeros_like(input);
        const float* in = input.data<float>();
        const float* upstream = grad_output.data<float>();
        float* result = grad_input.data<float>();
        for (int64_t i = 0; i < input.numel(); ++i)
          result[i] = static_cast<float>(upstream[i] / (1.0 + std::exp(-beta * in[i])));
        return {grad_input};
      });
}

}  // namespace example
