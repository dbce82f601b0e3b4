// sparse_linear with autograd: folds leading dimensions into rows, converts the input to the
// feature-major layout the kernels use (kernels/sparse_linear.h), and records one tape entry that
// keeps that copy for the weight gradient, so backward does not transpose x again.
#include "wisp/kernels/sparse_linear.h"
#include "wisp/autograd/tape.h"
#include "wisp/kernels/sparse_linear_inference.h"
#include "wisp/ops/sparse_linear.h"

namespace wisp {
namespace {

// A detached view of `t` with a new shape, for feeding kernels without recording on the tape.
Tensor reshaped(const Tensor& t, const Shape& shape) {
  return t.shape() == shape ? t.detach() : t.detach().view(shape);
}

}  // namespace

namespace {

// Both variants: `weights_bfloat16` undefined for the exact op.
Tensor sparse_linear_op(const Tensor& input, const Tensor& weights, const Tensor& weights_bfloat16,
                        const SparseStructure& structure, const Tensor& bias) {
  constexpr const char* op = "sparse_linear";
  WISP_CHECK(structure.defined(), op, ": the sparse structure is empty (build it with make_sparse_structure)");
  const int64_t in_features = structure.in_features, out_features = structure.out_features;
  check_dtype(op, "input", input, DType::Float32);
  check_dtype(op, "weights", weights, DType::Float32);
  check_same_device(op, input, weights);
  WISP_CHECK(weights.shape() == Shape{structure.nnz()}, op, ": expected weights of shape ", Shape{structure.nnz()},
             " (one value per connection) but got ", weights.shape());
  WISP_CHECK(structure.device() == input.device(), op, ": input is on ", input.device(),
             " but the sparse structure is on ", structure.device(), "; move the layer with .to(device)");
  WISP_CHECK(input.dim() >= 1 && input.size(-1) == in_features, op, ": expected input of shape [..., ", in_features,
             "] (in_features=", in_features, ") but got shape ", input.shape());
  if (bias.defined()) {
    check_dtype(op, "bias", bias, DType::Float32);
    check_same_device(op, input, bias);
    WISP_CHECK(bias.shape() == Shape{out_features}, op, ": expected bias of shape ", Shape{out_features}, " but got ",
               bias.shape());
  }

  // x [..., in] -> [rows, in] -> feature-major; y [rows, out] -> [..., out]. A 1-D input is one row.
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < input.dim(); ++d) rows *= input.size(d);
  std::vector<int64_t> out_dims(input.shape().begin(), input.shape().end() - 1);
  out_dims.push_back(out_features);
  const bool reduced = weights_bfloat16.defined();
  if (reduced) {
    check_dtype(op, "weights_bfloat16", weights_bfloat16, DType::BFloat16);
    check_same_device(op, input, weights_bfloat16);
    WISP_CHECK(weights_bfloat16.shape() == weights.shape(), op, ": expected weights_bfloat16 of shape ",
               weights.shape(), " (the weights') but got ", weights_bfloat16.shape());
  }
  // The input's copy stays float32 in both modes: a bfloat16 copy halves the bytes the batch tiles
  // read, but widening it costs more than that saves once they run at the machine's vector width
  // (docs/benchmarks.md, "Fewer bytes per connection").
  const kernels::FeatureMajor input_t = kernels::to_feature_major(reshaped(input, Shape{rows, in_features}));
  // What the kernels read as W: the float32 values or their bfloat16 copy.
  const Tensor values = reduced ? weights_bfloat16.detach() : weights.detach();
  const Tensor bias_values = bias.defined() ? bias.detach() : bias;
  // Without a tape entry the forward may skip zero inputs (its rounding differs); training keeps the CSR forward.
  const bool recording = autograd::needs_recording({input, weights, bias});
  const bool skip_zeros = !recording && !reduced;
  Tensor out = reshaped(skip_zeros ? kernels::sparse_linear_forward_inference(input_t, values, structure, bias_values)
                                   : kernels::sparse_linear_forward(input_t, values, structure, bias_values),
                        Shape(out_dims));
  if (!recording) return out;

  // grad_input needs the values, grad_weights the (feature-major) input, grad_bias neither.
  const bool input_needs = input.requires_grad(), weights_needs = weights.requires_grad();
  const bool bias_needs = bias.defined() && bias.requires_grad();
  const kernels::FeatureMajor saved_input = weights_needs ? input_t : kernels::FeatureMajor();
  const Tensor saved_values = input_needs ? values : Tensor();
  const Shape input_shape = input.shape();
  return autograd::record(
      "SparseLinearBackward", out, {input, weights, bias},
      [=](const Tensor& g) -> std::vector<Tensor> {
        const kernels::SparseLinearGradients grads =
            kernels::sparse_linear_backward(reshaped(g, Shape{rows, out_features}), saved_input, saved_values,
                                            structure, input_needs, weights_needs, bias_needs);
        return {input_needs ? reshaped(grads.input, input_shape) : Tensor(), grads.values, grads.bias};
      },
      {saved_input.data, saved_values, structure.column_indices});  // a RigL update rewrites the structure
}

}  // namespace

Tensor sparse_linear(const Tensor& input, const Tensor& weights, const SparseStructure& structure, const Tensor& bias) {
  return sparse_linear_op(input, weights, Tensor(), structure, bias);
}

Tensor sparse_linear(const Tensor& input, const Tensor& weights, const Tensor& weights_bfloat16,
                     const SparseStructure& structure, const Tensor& bias) {
  WISP_CHECK(weights_bfloat16.defined(),
             "sparse_linear: expected a bfloat16 copy of the weights but got an undefined "
             "tensor (call the variant without it for the exact op)");
  return sparse_linear_op(input, weights, weights_bfloat16, structure, bias);
}

}  // namespace wisp
