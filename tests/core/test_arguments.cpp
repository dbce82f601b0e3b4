// WISP_ARG: the member, chained setter and getter it declares, on a local options struct and on the
// library's options.
#include <optional>
#include <type_traits>

#include "test_helpers.h"
#include "wisp/core/arguments.h"

using namespace wisp;

namespace {

struct ExampleOptions {
  explicit ExampleOptions(int64_t size) : size_(size) {}
  // A hand-written alias, as SGDOptions::lr: it must reach the macro's member.
  ExampleOptions& width(int64_t value) { return size(value); }

  WISP_ARG(int64_t, size, 0);
  WISP_ARG(double, rate, 0.25);
  WISP_ARG(std::optional<uint64_t>, seed, std::nullopt);
  WISP_ARG(Tensor, mask, Tensor());
  WISP_ARG(double, std, 1.0);  // a member function named std does not hide namespace std
};

}  // namespace

TEST_CASE("WISP_ARG declares a default, a chained setter and a getter", "[core][arguments]") {
  const ExampleOptions defaults(3);
  CHECK(defaults.size() == 3);
  CHECK(defaults.rate() == 0.25);
  CHECK_FALSE(defaults.seed().has_value());
  CHECK_FALSE(defaults.mask().defined());
  CHECK(defaults.std() == 1.0);

  ExampleOptions options(3);
  ExampleOptions& chained = options.rate(0.5).seed(7).width(9).std(2.0);
  CHECK(&chained == &options);
  CHECK(options.rate() == 0.5);
  REQUIRE(options.seed().has_value());
  CHECK(*options.seed() == 7u);
  CHECK(options.size() == 9);
  CHECK(options.std() == 2.0);
  options.seed(std::nullopt);
  CHECK_FALSE(options.seed().has_value());

  // The setter stores the handle it is given (a Tensor is not copied).
  const Tensor mask = ones({2});
  options.mask(mask);
  CHECK(options.mask().impl() == mask.impl());

  static_assert(std::is_same_v<decltype(options.rate(1.0)), ExampleOptions&>);
  static_assert(std::is_same_v<decltype(defaults.rate()), double>);
}

TEST_CASE("the library's options keep their defaults and chain", "[core][arguments]") {
  const nn::SparseLinearOptions sparse;
  CHECK(sparse.sparsity() == 0.9);
  CHECK(sparse.bias());
  CHECK_FALSE(sparse.connectivity().defined());
  CHECK_FALSE(sparse.small_world());
  CHECK_FALSE(sparse.seed().has_value());
  CHECK_FALSE(sparse.dynamic());
  CHECK(sparse.delta_t() == nn::kRiglDefaultDeltaT);
  CHECK(sparse.t_end() == nn::kRiglDefaultTEnd);
  CHECK(sparse.alpha() == nn::kRiglDefaultAlpha);
  const nn::SparseLinearOptions chained = nn::SparseLinearOptions().sparsity(0.99).seed(5).dynamic(true).delta_t(20);
  CHECK(chained.sparsity() == 0.99);
  CHECK(chained.seed() == std::optional<uint64_t>(5));
  CHECK(chained.dynamic());
  CHECK(chained.delta_t() == 20);

  CHECK(nn::LinearOptions().bias());
  CHECK(nn::LayerNormOptions().eps() == 1e-5);
  CHECK(nn::LayerNormOptions().elementwise_affine());

  const nn::ActivationSparsityOptions activation;
  CHECK(activation.act_sparsity() == 0.65);
  CHECK(activation.alpha() == 0.1);
  CHECK(activation.beta() == 1.5);
  CHECK_FALSE(activation.units().has_value());
  CHECK(activation.k_inference_factor() == 1.0);
  CHECK_FALSE(activation.relu());
  CHECK(nn::ActivationSparsityOptions().units(2000).units() == std::optional<int64_t>(2000));

  const optim::SGDOptions sgd = optim::SGDOptions(0.1).momentum(0.9).nesterov(true);
  CHECK(sgd.learning_rate() == 0.1);
  CHECK(sgd.lr() == 0.1);
  CHECK(sgd.momentum() == 0.9);
  CHECK(sgd.dampening() == 0.0);
  CHECK(sgd.weight_decay() == 0.0);
  CHECK(sgd.nesterov());
  CHECK(optim::SGDOptions(0.1).lr(0.2).learning_rate() == 0.2);

  const data::MnistOptions mnist;
  CHECK(mnist.mean() == 0.1307);
  CHECK(mnist.std() == 0.3081);
  CHECK(mnist.normalize());

  const data::DataLoaderOptions loader;
  CHECK(loader.batch_size() == 1);
  CHECK_FALSE(loader.shuffle());
  CHECK_FALSE(loader.drop_last());
  CHECK_FALSE(loader.seed().has_value());
  CHECK(loader.prefetch());
  CHECK(data::DataLoaderOptions().batch_size(64).shuffle(true).seed(7).drop_last(true).seed() ==
        std::optional<uint64_t>(7));
}
