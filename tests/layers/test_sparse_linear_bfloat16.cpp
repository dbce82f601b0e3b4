// SparseLinear's reduced-precision mode (compute_dtype(DType::BFloat16)): the kernels read a bfloat16
// copy of the float32 weights, which the optimizer refreshes in its update pass and the forward
// refreshes after any other change; gradients and the trained parameter stay float32.
#include <map>
#include <memory>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::printed;
using wisp::testing::require_close;
using wisp::testing::values;

namespace {

nn::SparseLinearOptions reduced_options(uint64_t seed) {
  return nn::SparseLinearOptions().sparsity(0.8).seed(seed).compute_dtype(DType::BFloat16);
}

// The copy the layer's update hook offers the optimizer (null before the first forward).
const Tensor* offered_copy(const nn::SparseLinear& layer) {
  const auto hook = std::dynamic_pointer_cast<nn::BFloat16Weights>(layer.weights().update_hook());
  REQUIRE(hook != nullptr);
  return hook->bfloat16_copy();
}

std::vector<float> rounded(const Tensor& t) { return values(t.detach().to(DType::BFloat16).to(DType::Float32)); }

}  // namespace

TEST_CASE("SparseLinear bfloat16: close to the exact layer, equal to it on rounded operands", "[layers][bfloat16]") {
  manual_seed(11);
  nn::SparseLinear reduced(60, 40, reduced_options(5));
  manual_seed(11);  // the same draws for both
  nn::SparseLinear exact(60, 40, nn::SparseLinearOptions().sparsity(0.8).seed(5));
  CHECK(reduced.compute_dtype() == DType::BFloat16);
  CHECK(exact.compute_dtype() == DType::Float32);
  CHECK(values(reduced.weights()) == values(exact.weights()));  // the same draws: the mode changes no parameter
  CHECK(reduced.weights().dtype() == DType::Float32);
  CHECK(printed(reduced).find("compute_dtype=bfloat16") != std::string::npos);

  const Tensor x = randn({32, 60});
  const Tensor y = reduced(x);
  require_close(y, exact(x), 2e-2f);
  // The exact layer on bfloat16-rounded weights computes the same products in the same order.
  {
    NoGradGuard no_grad;
    exact.weights().copy_(from_vector(rounded(exact.weights()), exact.weights().shape()));
  }
  CHECK(values(y) == values(exact(x)));
  // One row: the weights are read in bfloat16 by the gather loop, whose vector order differs.
  const std::vector<float> all_rows = values(x);
  const Tensor one_row = from_vector(std::vector<float>(all_rows.begin(), all_rows.begin() + 60), {60});
  require_close(reduced(one_row), exact(one_row), 1e-5f);
}

TEST_CASE("SparseLinear bfloat16: float32 gradients, and the optimizer refreshes the copy in its pass",
          "[layers][bfloat16]") {
  manual_seed(12);
  const bool adam = GENERATE(false, true);
  INFO((adam ? "Adam" : "SGD"));
  nn::SparseLinear layer(50, 30, reduced_options(6));
  std::unique_ptr<optim::Optimizer> optimizer;
  if (adam) optimizer = std::make_unique<optim::Adam>(layer.parameters(), optim::AdamOptions(1e-2));
  else optimizer = std::make_unique<optim::SGD>(layer.parameters(), optim::SGDOptions(0.1).momentum(0.9));
  CHECK(offered_copy(layer) == nullptr);  // no forward yet: nothing to refresh

  const Tensor x = randn({16, 50}), target = randn({16, 30});
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 20; ++step) {
    optimizer->zero_grad();
    const Tensor loss = mse_loss(layer(x), target);
    loss.backward();
    REQUIRE(layer.weights().grad().dtype() == DType::Float32);
    const Tensor* copy = offered_copy(layer);
    REQUIRE(copy != nullptr);
    const TensorImpl* copy_impl = copy->impl().get();
    optimizer->step();
    // Written by the step itself: the same tensor, now the rounding of the updated weights.
    REQUIRE(offered_copy(layer) != nullptr);
    CHECK(offered_copy(layer)->impl().get() == copy_impl);
    CHECK(values(offered_copy(layer)->to(DType::Float32)) == rounded(layer.weights()));
    (step == 0 ? first_loss : last_loss) = loss.item<float>();
  }
  CHECK(last_loss < 0.9 * first_loss);
}

TEST_CASE("SparseLinear bfloat16: any other change of the weights refreshes the copy at the next forward",
          "[layers][bfloat16]") {
  manual_seed(13);
  nn::SparseLinear layer(40, 20, reduced_options(7));
  manual_seed(13);
  nn::SparseLinear exact(40, 20, nn::SparseLinearOptions().sparsity(0.8).seed(7));
  const Tensor x = randn({8, 40});
  layer(x);
  {
    NoGradGuard no_grad;
    layer.weights().mul_(3.0);  // an in-place change outside any optimizer
    exact.weights().copy_(from_vector(rounded(layer.weights()), layer.weights().shape()));
  }
  CHECK(values(layer(x)) == values(exact(x)));

  // A load replaces the weights (here with other connections and nnz): the copy follows.
  nn::SparseLinear other(40, 20, nn::SparseLinearOptions().sparsity(0.5).seed(8));
  std::vector<std::pair<std::string, Tensor>> state;
  other.state_tensors("", state);
  layer.load_state_dict(std::map<std::string, Tensor>(state.begin(), state.end()));
  REQUIRE(layer.nnz() == other.nnz());
  {
    NoGradGuard no_grad;
    other.weights().copy_(from_vector(rounded(other.weights()), other.weights().shape()));
  }
  CHECK(values(layer(x)) == values(other(x)));
}

TEST_CASE("SparseLinear bfloat16: RigL rewires a reduced-precision layer", "[layers][bfloat16][rigl]") {
  manual_seed(14);
  nn::SparseLinear layer(30, 30, reduced_options(9).dynamic(true).delta_t(2).t_end(100).alpha(0.3));
  optim::SGD optimizer(layer.parameters(), optim::SGDOptions(0.05));
  const Tensor x = randn({16, 30}), target = randn({16, 30});
  const Tensor before = layer.indices();
  for (int step = 0; step < 4; ++step) {
    optimizer.zero_grad();
    mse_loss(layer(x), target).backward();
    optimizer.step();
  }
  CHECK(layer.rigl_statistics().updates == 2);
  CHECK(layer.indices().to_vector<int64_t>() != before.to_vector<int64_t>());
  // After the rewiring the forward reads a copy of the rearranged weights.
  nn::SparseLinear exact(30, 30, nn::SparseLinearOptions().connectivity(layer.indices()));
  {
    NoGradGuard no_grad;
    exact.weights().copy_(from_vector(rounded(layer.weights()), layer.weights().shape()));
    exact.bias().copy_(layer.bias());
  }
  CHECK(values(layer(x)) == values(exact(x)));
}

TEST_CASE("SparseLinear bfloat16: compute_dtype is checked", "[layers][bfloat16][errors]") {
  WISP_REQUIRE_ERROR(nn::SparseLinear(4, 4, nn::SparseLinearOptions().compute_dtype(DType::Int32)),
                     "SparseLinear: expected compute_dtype float32 or bfloat16 but got int32");
}
