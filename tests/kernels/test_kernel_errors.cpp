// The argument checks of the dispatch points (kernels/*.cpp) and of nn::rigl_update, called
// directly: each error a caller can reach with CPU tensors names the operand and the offending
// sizes, dtypes or values. (The ops in layers/ check most arguments first with their own messages;
// these are the checks behind them, which keep the kernels safe when called on their own. Device
// mismatches need a GPU and are left to the [cuda] tests.)
#include <cstdint>
#include <vector>

#include "test_helpers.h"
#include "wisp/kernels/elementwise.h"
#include "wisp/kernels/k_winners.h"
#include "wisp/kernels/linear.h"
#include "wisp/kernels/loss.h"
#include "wisp/kernels/normalization.h"
#include "wisp/kernels/random.h"
#include "wisp/kernels/reduce.h"
#include "wisp/kernels/rigl.h"
#include "wisp/kernels/sgd.h"
#include "wisp/kernels/shape.h"
#include "wisp/kernels/sparse_linear.h"
#include "wisp/layers/rigl.h"

using namespace wisp;

namespace {

// A 2 × 3 connectivity with nnz = 3: (0, 0), (0, 2), (1, 1).
Tensor small_indices() { return from_vector<int64_t>({0, 0, 1, 0, 2, 1}, {2, 3}); }

}  // namespace

TEST_CASE("kernel errors: elementwise", "[kernel_errors]") {
  using kernels::UnaryOp;
  WISP_REQUIRE_ERROR(kernels::unary(UnaryOp::Exp, zeros({2}, DType::Int64)),
                     "unary op: expected input of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::unary(UnaryOp::Neg, Tensor()), "unary op: expected input to be a defined tensor");
  WISP_REQUIRE_ERROR(kernels::relu_backward(Tensor(), zeros({2})),
                     "relu_backward: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(kernels::equal(zeros({2}), zeros({2}, DType::Int64)),
                     "eq: expected both operands of the same dtype but got float32 and int64");
  WISP_REQUIRE_ERROR(kernels::equal(zeros({2}), Tensor()), "eq: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(kernels::sum_to_shape(zeros({2, 3}, DType::Int64), Shape{3}),
                     "sum_to_shape: expected input of dtype float32 but got int64");
}

TEST_CASE("kernel errors: activations, comparisons, where, clamp, softmax and bernoulli", "[kernel_errors]") {
  using kernels::CompareOp;
  using kernels::UnaryOp;
  WISP_REQUIRE_ERROR(kernels::unary_backward(UnaryOp::Tanh, zeros({3}), zeros({2})),
                     "unary op backward: expected grad_output", "[2]", "[3]");
  WISP_REQUIRE_ERROR(kernels::unary_backward(UnaryOp::Gelu, zeros({2}), zeros({2}, DType::Int64)),
                     "unary op backward: expected saved of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::compare(CompareOp::Lt, zeros({2}), zeros({2}, DType::Int64)),
                     "lt: expected both operands of the same dtype but got float32 and int64");
  WISP_REQUIRE_ERROR(kernels::compare_scalar(CompareOp::Ge, zeros({2}, DType::UInt8), 256.0),
                     "ge: the scalar 256 cannot be compared with a tensor of dtype uint8");
  WISP_REQUIRE_ERROR(kernels::where(zeros({2}, DType::UInt8), zeros({2}), Tensor()),
                     "where: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(kernels::where(zeros({2}, DType::UInt8), zeros({3}), zeros({3})), "where", "[2]", "[3]");
  WISP_REQUIRE_ERROR(kernels::clamp_backward(zeros({3}), zeros({2}), 0.0, 1.0), "clamp backward: expected grad_output",
                     "[2]", "[3]");
  WISP_REQUIRE_ERROR(kernels::clamp(zeros({2}, DType::Int32), -0.5, std::nullopt),
                     "clamp: the bound -0.5 cannot clamp a tensor of dtype int32");
  WISP_REQUIRE_ERROR(kernels::softmax_backward(zeros({2, 4}), zeros({2, 3}), 1), "softmax backward: expected gradient",
                     "[2, 3]", "[2, 4]");
  WISP_REQUIRE_ERROR(kernels::bernoulli(zeros({2}, DType::Int64), 0, 0),
                     "bernoulli: expected probabilities of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::bernoulli_scalar({2}, Device::cpu(), 1.5, 1.0, 0, 0),
                     "bernoulli: expected a probability in [0, 1] but got 1.5");
  WISP_REQUIRE_ERROR(kernels::bernoulli_scalar({2}, Device::cpu(), 0.5, 1e40, 0, 0),
                     "bernoulli: expected a finite float32 value but got 1e+40");
}

TEST_CASE("kernel errors: k_winners", "[kernel_errors]") {
  WISP_REQUIRE_ERROR(kernels::k_winners_forward(zeros({2, 4}), Tensor(), 2, 1.0, false),
                     "k_winners: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(kernels::k_winners_forward(zeros(Shape{}), full({1}, 0.5), 1, 1.0, false),
                     "k_winners: expected an input with at least one dimension (units last) but got shape []");
  WISP_REQUIRE_ERROR(kernels::k_winners_backward(Tensor(), zeros({2, 4}, DType::UInt8)),
                     "k_winners backward: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(kernels::k_winners_backward(zeros({2, 3}), zeros({2, 4}, DType::UInt8)),
                     "k_winners backward: expected a gradient with 8 elements (the mask's shape [2, 4]) but got "
                     "shape [2, 3]");
  WISP_REQUIRE_ERROR(kernels::k_winners_update_duty_cycle_(full({4}, 0.5), Tensor(), 2, 0.1),
                     "k_winners duty-cycle update: expected defined tensors but got an undefined one");
}

TEST_CASE("kernel errors: matmul", "[kernel_errors]") {
  WISP_REQUIRE_ERROR(kernels::matmul(zeros({2, 2}, DType::Int64), zeros({2, 2})),
                     "matmul: expected the first operand of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::matmul(zeros({2, 2}), zeros({2, 2}, DType::Int32)),
                     "matmul: expected the second operand of dtype float32 but got int32");
  WISP_REQUIRE_ERROR(kernels::matmul(zeros({2, 2}), Tensor()),
                     "matmul: expected the second operand to be a defined "
                     "tensor");
  WISP_REQUIRE_ERROR(kernels::matmul(zeros({3}), zeros({3, 2})),
                     "matmul: expected the first operand to be a 2-D matrix but got shape [3]");
  WISP_REQUIRE_ERROR(kernels::matmul(zeros({2, 3}), zeros({3, 2, 1})),
                     "matmul: expected the second operand to be a 2-D matrix but got shape [3, 2, 1]");
  WISP_REQUIRE_ERROR(kernels::matmul(zeros({2, 3}), zeros({4, 3})),
                     "matmul: shapes [2, 3] and [4, 3] cannot be multiplied (3 != 4)");
  // With transposes the inner sizes are a's rows and b's columns; the message says which operand was transposed.
  WISP_REQUIRE_ERROR(kernels::matmul(zeros({2, 3}), zeros({2, 4}), true, true),
                     "matmul: shapes [2, 3] (transposed) and [2, 4] (transposed) cannot be multiplied (2 != 4)");
  WISP_REQUIRE_ERROR(kernels::matmul(zeros({2, 3}), zeros({2, 4}), false, true),
                     "matmul: shapes [2, 3] and [2, 4] (transposed) cannot be multiplied (3 != 4)");
}

TEST_CASE("kernel errors: linear forward and backward", "[kernel_errors]") {
  const Tensor x = zeros({2, 4}), w = zeros({3, 4}), g = zeros({2, 3});
  WISP_REQUIRE_ERROR(kernels::linear_forward(zeros({2, 4}, DType::Int64), w, Tensor()),
                     "linear: expected input of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::linear_forward(x, zeros({3, 4}, DType::UInt8), Tensor()),
                     "linear: expected weight of dtype float32 but got uint8");
  WISP_REQUIRE_ERROR(kernels::linear_forward(zeros({4}), w, Tensor()),
                     "linear: expected input to be a 2-D matrix but got shape [4]");
  WISP_REQUIRE_ERROR(kernels::linear_forward(x, zeros({4}), Tensor()),
                     "linear: expected weight to be a 2-D matrix but got shape [4]");
  WISP_REQUIRE_ERROR(kernels::linear_forward(zeros({2, 5}), w, Tensor()),
                     "linear: expected input with 4 columns (weight is [3, 4]) but got shape [2, 5]");
  WISP_REQUIRE_ERROR(kernels::linear_forward(x, w, zeros({3}, DType::Int64)),
                     "linear: expected bias of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::linear_forward(x, w, zeros({4})), "linear: expected bias of shape [3] but got [4]");

  WISP_REQUIRE_ERROR(kernels::linear_backward(zeros({2, 3}, DType::Int64), x, w, true, true, true),
                     "linear backward: expected grad_output of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::linear_backward(zeros({6}), x, w, true, true, true),
                     "linear backward: expected grad_output to be a 2-D matrix but got shape [6]");
  WISP_REQUIRE_ERROR(kernels::linear_backward(g, x, Tensor(), true, false, false),
                     "linear backward: expected weight to be a defined tensor");
  WISP_REQUIRE_ERROR(kernels::linear_backward(g, x, zeros({3, 4, 1}), true, false, false),
                     "linear backward: expected weight to be a 2-D matrix but got shape [3, 4, 1]");
  WISP_REQUIRE_ERROR(kernels::linear_backward(g, x, zeros({5, 4}), true, false, false),
                     "linear backward: expected weight with 3 rows for grad_output of shape [2, 3] but got shape "
                     "[5, 4]");
  WISP_REQUIRE_ERROR(kernels::linear_backward(g, zeros({2, 4}, DType::Int64), Tensor(), false, true, false),
                     "linear backward: expected input of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::linear_backward(g, zeros({5, 4}), Tensor(), false, true, false),
                     "linear backward: expected input with 2 rows for grad_output of shape [2, 3] but got shape "
                     "[5, 4]");
}

TEST_CASE("kernel errors: losses", "[kernel_errors]") {
  WISP_REQUIRE_ERROR(kernels::log_softmax_backward(zeros({2, 3}), Tensor(), 1),
                     "log_softmax backward: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(kernels::log_softmax_backward(zeros({3, 2}), zeros({2, 3}), 1),
                     "log_softmax backward: expected a gradient of shape [2, 3] but got [3, 2]");

  const Tensor target = from_vector<int64_t>({0, 2}, {2});
  WISP_REQUIRE_ERROR(kernels::cross_entropy_forward(zeros({2, 3}), Tensor()),
                     "cross_entropy: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(kernels::cross_entropy_forward(zeros({2, 3}), zeros({3}, DType::Int64)),
                     "cross_entropy: expected logits [N, C] and target [N] but got [2, 3] and [3]");
  WISP_REQUIRE_ERROR(kernels::cross_entropy_forward(zeros({3}), zeros({1}, DType::Int64)),
                     "cross_entropy: expected logits [N, C] and target [N] but got [3] and [1]");
  const kernels::CrossEntropyForward forward = kernels::cross_entropy_forward(zeros({2, 3}), target);
  WISP_REQUIRE_ERROR(
      kernels::cross_entropy_backward(ones({2}), Tensor(), target, forward.max_logit, forward.log_sum, 0.5),
      "cross_entropy backward: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(
      kernels::cross_entropy_backward(ones({3}), zeros({2, 3}), target, forward.max_logit, forward.log_sum, 0.5),
      "cross_entropy backward: expected a gradient with 1 or 2 elements but got shape [3]");

  WISP_REQUIRE_ERROR(kernels::squared_error(zeros({2}), Tensor()),
                     "mse_loss: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(kernels::squared_error_sum(Tensor(), zeros({2}), 1.0),
                     "mse_loss: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(kernels::squared_error_backward(ones({1}), Tensor(), zeros({2}), 1.0, true, true),
                     "mse_loss backward: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(kernels::squared_error_backward(ones({3}), zeros({2, 3}), zeros({2, 3}), 1.0, true, true),
                     "mse_loss backward: expected a gradient of shape [2, 3] or one element but got [3]");
}

TEST_CASE("kernel errors: layer_norm backward", "[kernel_errors]") {
  const Tensor x = randn({2, 4});
  const kernels::LayerNormForward forward = kernels::layer_norm_forward(x, Shape{4}, Tensor(), Tensor(), 1e-5);
  WISP_REQUIRE_ERROR(
      kernels::layer_norm_backward(Tensor(), x, forward.mean, forward.rstd, Tensor(), Shape{4}, true, false, false),
      "layer_norm backward: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(kernels::layer_norm_backward(zeros({2, 3}), x, forward.mean, forward.rstd, Tensor(), Shape{4},
                                                  true, false, false),
                     "layer_norm backward: expected a gradient of shape [2, 4] but got [2, 3]");
}

// Each of these used to read or write past a tensor (a crash or silent garbage) when called directly.
TEST_CASE("kernel errors: every operand a kernel reads is checked for dtype and shape", "[kernel_errors]") {
  const Tensor int64_vector = zeros({2}, DType::Int64);
  WISP_REQUIRE_ERROR(kernels::relu_backward(ones({1}), ones({5})),
                     "relu_backward: expected grad_output of shape [5] but got [1]");
  WISP_REQUIRE_ERROR(kernels::relu_backward(ones({2}), int64_vector),
                     "relu_backward: expected input of dtype float32 but got int64");

  WISP_REQUIRE_ERROR(kernels::squared_error(ones({5}), ones({1})),
                     "mse_loss: expected target of shape [5] but got [1]");
  WISP_REQUIRE_ERROR(kernels::squared_error_sum(ones({5}), ones({1}), 1.0),
                     "mse_loss: expected target of shape [5] but got [1]");
  WISP_REQUIRE_ERROR(kernels::squared_error(int64_vector, ones({2})),
                     "mse_loss: expected input of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::squared_error_backward(ones({1}), ones({5}), ones({2}), 1.0, true, true),
                     "mse_loss backward: expected target of shape [5] but got [2]");
  WISP_REQUIRE_ERROR(kernels::squared_error_backward(ones({1}, DType::Int64), ones({2}), ones({2}), 1.0, true, false),
                     "mse_loss backward: expected gradient of dtype float32 but got int64");

  WISP_REQUIRE_ERROR(kernels::log_softmax_forward(zeros({2, 3}, DType::Int64), 1),
                     "log_softmax: expected input of dtype float32 but got int64");
  const Tensor target = from_vector<int64_t>({0, 2}, {2});
  WISP_REQUIRE_ERROR(kernels::cross_entropy_forward(zeros({2, 3}), zeros({2})),
                     "cross_entropy: expected target of dtype int64 but got float32");
  const kernels::CrossEntropyForward forward = kernels::cross_entropy_forward(zeros({2, 3}), target);
  const auto backward = [&](const Tensor& logits, const Tensor& target_, const Tensor& max_logit,
                            const Tensor& log_sum) {
    return kernels::cross_entropy_backward(ones({2}), logits, target_, max_logit, log_sum, 0.5);
  };
  WISP_REQUIRE_ERROR(backward(zeros({6}), target, forward.max_logit, forward.log_sum),
                     "cross_entropy backward: expected logits [N, C] but got shape [6]");
  WISP_REQUIRE_ERROR(backward(zeros({2, 3}), from_vector<int64_t>({0}, {1}), forward.max_logit, forward.log_sum),
                     "cross_entropy backward: expected target of shape [2] but got [1]");
  WISP_REQUIRE_ERROR(backward(zeros({2, 3}), target, zeros({1}), forward.log_sum),
                     "cross_entropy backward: expected max_logit of shape [2] but got [1]");
  WISP_REQUIRE_ERROR(backward(zeros({2, 3}), target, forward.max_logit, zeros({2}, DType::Int64)),
                     "cross_entropy backward: expected log_sum of dtype float32 but got int64");

  WISP_REQUIRE_ERROR(kernels::k_winners_forward(zeros({2, 4}, DType::Int64), full({4}, 0.5), 2, 1.0, false),
                     "k_winners: expected input of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::k_winners_backward(zeros({2, 4}), zeros({2, 4})),
                     "k_winners backward: expected mask of dtype uint8 but got float32");
  WISP_REQUIRE_ERROR(kernels::k_winners_update_duty_cycle_(full({4}, 0.5), zeros({4}), 2, 0.1),
                     "k_winners duty-cycle update: expected win_counts of dtype int64 but got float32");

  const Tensor x = randn({2, 4});
  WISP_REQUIRE_ERROR(kernels::layer_norm_forward(ones({4}), Shape{5}, Tensor(), Tensor(), 1e-5),
                     "layer_norm: expected input with trailing dimensions [5] but got shape [4]");
  WISP_REQUIRE_ERROR(kernels::layer_norm_forward(x, Shape{4}, ones({1}), Tensor(), 1e-5),
                     "layer_norm: expected weight of shape [4] but got [1]");
  WISP_REQUIRE_ERROR(kernels::layer_norm_forward(x, Shape{4}, ones({4}), ones({4}, DType::Int64), 1e-5),
                     "layer_norm: expected bias of dtype float32 but got int64");
  const kernels::LayerNormForward statistics = kernels::layer_norm_forward(x, Shape{4}, Tensor(), Tensor(), 1e-5);
  const auto norm_backward = [&](const Tensor& mean, const Tensor& rstd, const Tensor& weight, const Shape& shape) {
    return kernels::layer_norm_backward(ones({2, 4}), x, mean, rstd, weight, shape, true, weight.defined(), false);
  };
  WISP_REQUIRE_ERROR(norm_backward(zeros({1}), statistics.rstd, Tensor(), Shape{4}),
                     "layer_norm backward: expected mean of shape [2] but got [1]");
  WISP_REQUIRE_ERROR(norm_backward(statistics.mean, zeros({2}, DType::Int64), Tensor(), Shape{4}),
                     "layer_norm backward: expected rstd of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(norm_backward(statistics.mean, statistics.rstd, ones({3}), Shape{4}),
                     "layer_norm backward: expected weight of shape [4] but got [3]");
  WISP_REQUIRE_ERROR(norm_backward(statistics.mean, statistics.rstd, Tensor(), Shape{8}),
                     "layer_norm backward: expected input with trailing dimensions [8] but got shape [2, 4]");
}

TEST_CASE("kernel errors: expand_dim", "[kernel_errors]") {
  WISP_REQUIRE_ERROR(kernels::expand_dim(zeros({4}), Shape{2, 3}, 0),
                     "expand_dim: expected 3 gradient elements for shape [2, 3] reduced over dimension 0 but got 4");
  WISP_REQUIRE_ERROR(kernels::expand_dim(zeros({3}), Shape{2, 3}, 1),
                     "expand_dim: expected 2 gradient elements for shape [2, 3] reduced over dimension 1 but got 3");
}

TEST_CASE("kernel errors: SGD step", "[kernel_errors]") {
  kernels::SgdHyperparameters plain;
  plain.learning_rate = 0.1;
  kernels::SgdHyperparameters momentum = plain;
  momentum.momentum = 0.9;
  const Tensor p = zeros({2});
  WISP_REQUIRE_ERROR(kernels::sgd_step(zeros({2}, DType::Int64), zeros({2}), Tensor(), plain, true),
                     "SGD: expected parameter of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::sgd_step(p, zeros({2}, DType::Int64), Tensor(), plain, true),
                     "SGD: expected gradient of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::sgd_step(p, Tensor(), Tensor(), plain, true),
                     "SGD: expected gradient to be a defined tensor");
  WISP_REQUIRE_ERROR(kernels::sgd_step(p, zeros({3}), Tensor(), plain, true),
                     "SGD: expected a gradient of shape [2] but got [3]");
  WISP_REQUIRE_ERROR(kernels::sgd_step(p, ones({2}), Tensor(), momentum, true),
                     "SGD: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(kernels::sgd_step(p, ones({2}), zeros({3}), momentum, true),
                     "SGD: expected a momentum buffer of shape [2] but got [3]");
  // Refused before anything is written.
  CHECK(testing::values(p) == std::vector<float>{0, 0});
}

TEST_CASE("kernel errors: cat, repeat_interleave and their backwards", "[kernel_errors]") {
  WISP_REQUIRE_ERROR(kernels::cat(std::vector<Tensor>{}, 0), "cat: expected a non-empty list of tensors");
  WISP_REQUIRE_ERROR(kernels::cat({zeros(Shape{}), zeros(Shape{})}, 0),
                     "cat: zero-dimensional tensor (at index 0) cannot be concatenated; view it as [1] first");
  WISP_REQUIRE_ERROR(kernels::cat({zeros({2, 3}), zeros({2, 3})}, 2),
                     "cat: expected a normalised dimension in [0, 2) for shape [2, 3] but got 2");
  WISP_REQUIRE_ERROR(kernels::cat({zeros({2, 3}), zeros({2, 3})}, -1),
                     "cat: expected a normalised dimension in [0, 2) for shape [2, 3] but got -1");

  const std::vector<Shape> halves{Shape{2}, Shape{2}};
  WISP_REQUIRE_ERROR(kernels::cat_backward(zeros({4}, DType::Int64), 0, halves, {true, true}),
                     "cat backward: expected grad_output of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::cat_backward(zeros({4}), 1, halves, {true, true}),
                     "cat backward: expected a normalised dimension in [0, 1) for shape [4] but got 1");
  WISP_REQUIRE_ERROR(kernels::cat_backward(zeros({4}), 0, halves, {true}),
                     "cat backward: expected one `needed` flag per input (2) but got 1");
  WISP_REQUIRE_ERROR(kernels::cat_backward(zeros({2, 3}), 0, {Shape{1, 3}, Shape{1, 4}}, {true, true}),
                     "cat backward: input 1 has shape [1, 4], which does not fit grad_output of shape [2, 3] outside "
                     "dimension 0");
  WISP_REQUIRE_ERROR(kernels::cat_backward(zeros({2, 3}), 0, {Shape{3}}, {true}),
                     "cat backward: input 0 has shape [3], which does not fit grad_output of shape [2, 3]");
  WISP_REQUIRE_ERROR(kernels::cat_backward(zeros({4}), 0, {Shape{2}, Shape{3}}, {true, true}),
                     "cat backward: the inputs have 5 entries along dimension 0 but grad_output has shape [4]");

  WISP_REQUIRE_ERROR(kernels::repeat_interleave(zeros({2, 3}), 2, 2),
                     "repeat_interleave: expected a normalised dimension in [0, 2) for shape [2, 3] but got 2");
  WISP_REQUIRE_ERROR(kernels::repeat_interleave_backward(zeros({4}, DType::Int64), Shape{2}, 2, 0),
                     "repeat_interleave backward: expected grad_output of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::repeat_interleave_backward(zeros({4}), Shape{2}, 2, 1),
                     "repeat_interleave backward: expected a normalised dimension in [0, 1) for shape [2] but got 1");
  WISP_REQUIRE_ERROR(kernels::repeat_interleave_backward(zeros({5}), Shape{2}, 2, 0),
                     "repeat_interleave backward: expected grad_output of shape [4] but got [5]");
}

TEST_CASE("kernel errors: sparse structure and sparse linear", "[kernel_errors]") {
  const Tensor indices = from_vector<int64_t>({0, 1, 1, 0}, {2, 2});
  const kernels::SparseStructure s = kernels::make_sparse_structure(indices, 2, 3);  // out 2, in 3, nnz 2
  const kernels::FeatureMajor x = kernels::to_feature_major(zeros({4, 3}));

  WISP_REQUIRE_ERROR(kernels::make_sparse_structure(indices, 0, 3),
                     "make_sparse_structure: expected positive out_features and in_features but got 0 and 3");
  WISP_REQUIRE_ERROR(kernels::make_sparse_structure(indices, 2, -1),
                     "make_sparse_structure: expected positive out_features and in_features but got 2 and -1");
  WISP_REQUIRE_ERROR(kernels::make_sparse_structure(indices, int64_t{1} << 31, 3, DType::Int32),
                     "make_sparse_structure: nnz=2, out_features=2147483648, in_features=3 do not all fit in int32 "
                     "indices");
  // Sizes just below INT32_MAX are refused too: the kernels look ahead of a position in the index type.
  WISP_REQUIRE_ERROR(kernels::make_sparse_structure(indices, 2, kernels::kMaxInt32IndexedSize + 1, DType::Int32),
                     "in_features=2147482624 do not all fit in int32 indices (at most 2147482623 each");

  WISP_REQUIRE_ERROR(kernels::to_feature_major(zeros({2, 3}, DType::Int64)),
                     "to_feature_major: expected input of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::to_feature_major(zeros({6})),
                     "to_feature_major: expected a 2-D [rows, features] tensor but got shape [6]");

  // The structure's own tensors.
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward(x, zeros({2}), kernels::SparseStructure(), Tensor()),
                     "sparse_linear: the sparse structure is empty (build it with make_sparse_structure)");
  WISP_REQUIRE_ERROR(
      kernels::sparse_linear_backward(zeros({4, 2}), x, zeros({2}), kernels::SparseStructure(), true, true, true),
      "sparse_linear backward: the sparse structure is empty (build it with make_sparse_structure)");
  kernels::SparseStructure float_indices = s;
  float_indices.column_indices = zeros({2});
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward(x, zeros({2}), float_indices, Tensor()),
                     "sparse_linear: expected column_indices of dtype int32 (row_pointers') or uint16 (for at most "
                     "65536 features) but got float32 for 3 features");
  kernels::SparseStructure missing = s;
  missing.row_indices = Tensor();
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward(x, zeros({2}), missing, Tensor()),
                     "SparseStructure: expected row_indices of shape [2] but got an undefined tensor");

  // Values, input and bias of the forward.
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward(x, zeros({2}, DType::Int64), s, Tensor()),
                     "sparse_linear: expected values of dtype float32 or bfloat16 but got int64");
  kernels::FeatureMajor integer_input;
  integer_input.data = zeros({3, 1}, DType::Int64);
  integer_input.rows = 1;
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward(integer_input, zeros({2}), s, Tensor()),
                     "sparse_linear: expected input of dtype float32 or bfloat16 but got int64");
  kernels::FeatureMajor bad_stride;
  bad_stride.data = zeros({3, 8});
  bad_stride.rows = 4;
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward(bad_stride, zeros({2}), s, Tensor()),
                     "sparse_linear: expected input of 4 rows with stride 16 but got data of shape [3, 8]");
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward(x, zeros({2}), s, zeros({2}, DType::Int64)),
                     "sparse_linear: expected bias of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward(x, zeros({2}), s, zeros({3})),
                     "sparse_linear: expected bias of shape [2] but got [3]");

  // The backward checks only what each requested gradient needs.
  WISP_REQUIRE_ERROR(kernels::sparse_linear_backward(zeros({4, 2}, DType::Int64), x, zeros({2}), s, true, true, true),
                     "sparse_linear backward: expected grad_output of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(
      kernels::sparse_linear_backward(zeros({4, 2}), x, Tensor(), s, true, false, false),
      "sparse_linear backward: expected values of dtype float32 or bfloat16 but got an undefined tensor");
  WISP_REQUIRE_ERROR(
      kernels::sparse_linear_backward(zeros({4, 2}), kernels::FeatureMajor(), zeros({2}), s, false, true, false),
      "sparse_linear backward: expected input of dtype float32 or bfloat16 but got an undefined tensor");
}

TEST_CASE("kernel errors: RigL kernels", "[kernel_errors]") {
  const kernels::SparseStructure s = kernels::make_sparse_structure(small_indices(), 2, 3);  // nnz 3
  const Tensor g = randn({4, 2}), x = randn({4, 3});
  const Tensor dropped = from_vector<uint8_t>({1, 0, 0}, {3});

  WISP_REQUIRE_ERROR(kernels::smallest_magnitude_mask(zeros({3}, DType::Int64), 1),
                     "smallest_magnitude_mask: expected values of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::smallest_magnitude_mask(zeros({2, 3}), 1),
                     "smallest_magnitude_mask: expected 1-D values but got shape [2, 3]");

  WISP_REQUIRE_ERROR(kernels::largest_absent_gradients(g, x, kernels::SparseStructure(), dropped, 1),
                     "largest_absent_gradients: the sparse structure is empty");
  WISP_REQUIRE_ERROR(kernels::largest_absent_gradients(zeros({4, 2}, DType::Int64), x, s, dropped, 1),
                     "largest_absent_gradients: expected grad_output of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::largest_absent_gradients(g, zeros({4, 3}, DType::Int64), s, dropped, 1),
                     "largest_absent_gradients: expected input of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(kernels::largest_absent_gradients(g, randn({4, 4}), s, dropped, 1),
                     "largest_absent_gradients: expected input of shape [4, 3] but got [4, 4]");
  WISP_REQUIRE_ERROR(kernels::largest_absent_gradients(g, randn({5, 3}), s, dropped, 1),
                     "largest_absent_gradients: expected input of shape [4, 3] but got [5, 3]");
  WISP_REQUIRE_ERROR(kernels::largest_absent_gradients(g, x, s, Tensor(), 1),
                     "largest_absent_gradients: expected defined tensors but got an undefined one");
  WISP_REQUIRE_ERROR(kernels::largest_absent_gradients(g, x, s, zeros({3}), 1),
                     "largest_absent_gradients: expected dropped of dtype uint8 but got float32");
  WISP_REQUIRE_ERROR(kernels::largest_absent_gradients(g, x, s, zeros({4}, DType::UInt8), 1),
                     "largest_absent_gradients: expected dropped of shape [3] (one per nonzero) but got [4]");
  WISP_REQUIRE_ERROR(kernels::largest_absent_gradients(g, x, s, dropped, 1, 0, -1),
                     "largest_absent_gradients: expected tile_elements >= 0 but got -1");

  const Tensor grown = from_vector<int64_t>({1}, {1});
  WISP_REQUIRE_ERROR(kernels::rewire_connections(kernels::SparseStructure(), dropped, grown),
                     "rewire_connections: the sparse structure is empty");
  WISP_REQUIRE_ERROR(kernels::rewire_connections(s, zeros({3}, DType::Int64), grown),
                     "rewire_connections: expected dropped of dtype uint8 but got int64");
  WISP_REQUIRE_ERROR(kernels::rewire_connections(s, zeros({2}, DType::UInt8), grown),
                     "rewire_connections: expected dropped of shape [3] (one per nonzero) but got [2]");
  WISP_REQUIRE_ERROR(kernels::rewire_connections(s, dropped, zeros({1})),
                     "rewire_connections: expected grown of dtype int64 but got float32");
  WISP_REQUIRE_ERROR(kernels::rewire_connections(s, dropped, zeros({1, 1}, DType::Int64)),
                     "rewire_connections: expected 1-D grown positions but got shape [1, 1]");
}

TEST_CASE("kernel errors: rebuild_sparse_structure_ refuses before rewriting anything", "[kernel_errors]") {
  const kernels::SparseStructure s = kernels::make_sparse_structure(small_indices(), 2, 3);  // nnz 3
  const std::vector<uint16_t> columns = s.column_indices.to_vector<uint16_t>();
  WISP_REQUIRE_ERROR(kernels::rebuild_sparse_structure_(kernels::SparseStructure(), small_indices()),
                     "rebuild_sparse_structure_: the sparse structure is empty");
  WISP_REQUIRE_ERROR(kernels::rebuild_sparse_structure_(s, Tensor()),
                     "rebuild_sparse_structure_: expected indices of shape [2, 3] (the same nnz) but got an undefined "
                     "tensor");
  WISP_REQUIRE_ERROR(kernels::rebuild_sparse_structure_(s, from_vector<int64_t>({0, 1}, {2, 1})),
                     "rebuild_sparse_structure_: expected indices of shape [2, 3] (the same nnz) but got [2, 1]");
  WISP_REQUIRE_ERROR(kernels::rebuild_sparse_structure_(s, zeros({6})),
                     "rebuild_sparse_structure_: expected indices of shape [2, 3] (the same nnz) but got [6]");
  WISP_REQUIRE_ERROR(kernels::rebuild_sparse_structure_(s, zeros({2, 3})),
                     "rebuild_sparse_structure_: expected indices of dtype int64 but got float32");
  WISP_REQUIRE_ERROR(kernels::rebuild_sparse_structure_(s, from_vector<int64_t>({0, 0, 2, 0, 2, 1}, {2, 3})),
                     "rebuild_sparse_structure_: row index 2 of nonzero 2 out of range [0, 2)");
  WISP_REQUIRE_ERROR(kernels::rebuild_sparse_structure_(s, from_vector<int64_t>({0, 0, 1, 2, 0, 1}, {2, 3})),
                     "rebuild_sparse_structure_: expected indices sorted by (row, col) without duplicates, but "
                     "nonzero 1 (0, 0) follows (0, 2)");
  CHECK(s.column_indices.to_vector<uint16_t>() == columns);
}

TEST_CASE("kernel errors: rigl_update checks its arguments before changing anything", "[kernel_errors][rigl]") {
  const kernels::SparseStructure s = kernels::make_sparse_structure(small_indices(), 2, 3);  // nnz 3
  const Tensor values = from_vector<float>({1, 2, 3}, {3});
  const Tensor g = randn({4, 2}), x = randn({4, 3});
  WISP_REQUIRE_ERROR(nn::rigl_update(values, kernels::SparseStructure(), g, x, 1),
                     "rigl_update: the sparse structure is empty");
  WISP_REQUIRE_ERROR(nn::rigl_update(zeros({3}, DType::Int64), s, g, x, 1),
                     "rigl_update: expected values of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(nn::rigl_update(zeros({4}), s, g, x, 1), "rigl_update: expected values of shape [3] but got [4]");
  WISP_REQUIRE_ERROR(nn::rigl_update(values, s, g, x, 1, {zeros({3}), zeros({3}, DType::Int64)}),
                     "rigl_update: expected companion of dtype float32 but got int64");
  WISP_REQUIRE_ERROR(nn::rigl_update(values, s, g, x, 1, {Tensor()}),
                     "rigl_update: expected companion to be a defined tensor");
  WISP_REQUIRE_ERROR(nn::rigl_update(values, s, g, x, 1, {zeros({2})}),
                     "rigl_update: expected every companion tensor of shape [3] (one entry per connection) but got "
                     "[2]");
  WISP_REQUIRE_ERROR(nn::rigl_update(values, s, g, x, 4), "rigl_update: expected a count in [0, 3] but got 4");
  WISP_REQUIRE_ERROR(nn::rigl_update(values, s, g, x, -1), "rigl_update: expected a count in [0, 3] but got -1");
  CHECK(values.to_vector<float>() == std::vector<float>{1, 2, 3});
  CHECK(s.column_indices.to_vector<uint16_t>() == std::vector<uint16_t>{0, 2, 1});
}
