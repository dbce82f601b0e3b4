// nn::utils::clip_grad_norm_ against torch.nn.utils.clip_grad_norm_ (tests/reference/adam_golden.h).
#include <cmath>
#include <limits>

#include "reference/adam_golden.h"
#include "test_helpers.h"

using namespace wisp;
using wisp::testing::values;
namespace adam_golden = wisp::golden::adam;

namespace {

std::vector<Tensor> clip_parameters() {
  std::vector<Tensor> parameters = {zeros({4}), zeros({2, 3}), zeros({3})};
  for (const Tensor& p : parameters) p.set_requires_grad(true);
  parameters[0].set_grad(from_vector(adam_golden::kClipGradFirst, {4}));
  parameters[1].set_grad(from_vector(adam_golden::kClipGradSecond, {2, 3}));
  return parameters;  // the third has no gradient
}

}  // namespace

TEST_CASE("clip_grad_norm_ follows torch.nn.utils.clip_grad_norm_", "[optim][clip]") {
  for (const adam_golden::Clip& expected : adam_golden::kClips) {
    INFO("max_norm " << expected.max_norm << " norm_type " << expected.norm_type);
    const std::vector<Tensor> parameters = clip_parameters();
    const double total = nn::utils::clip_grad_norm_(parameters, expected.max_norm, expected.norm_type);
    CHECK(total == Approx(expected.total_norm).epsilon(1e-5));
    wisp::testing::require_close(parameters[0].grad(), from_vector(expected.first, {4}), 1e-5f);
    wisp::testing::require_close(parameters[1].grad(), from_vector(expected.second, {2, 3}), 1e-5f);
    CHECK_FALSE(parameters[2].grad().defined());
  }
}

TEST_CASE("clip_grad_norm_ without gradients returns 0", "[optim][clip]") {
  Tensor p = ones({2});
  p.set_requires_grad(true);
  CHECK(nn::utils::clip_grad_norm_({p}, 1.0) == 0.0);
  CHECK(nn::utils::clip_grad_norm_({}, 1.0) == 0.0);
}

TEST_CASE("clip_grad_norm_ reports a non-finite norm", "[optim][clip]") {
  const float infinity = std::numeric_limits<float>::infinity();
  Tensor p = zeros({2});
  p.set_requires_grad(true);
  // Infinite: returned as it is; the factor max_norm / inf = 0 scales the finite entries to 0 and
  // the infinite one to NaN, as PyTorch.
  p.set_grad(from_vector(std::vector<float>{infinity, 3.0f}, {2}));
  CHECK(std::isinf(nn::utils::clip_grad_norm_({p}, 1.0)));
  CHECK(std::isnan(values(p.grad())[0]));
  CHECK(values(p.grad())[1] == 0.0f);
  // NaN: returned, and with error_if_nonfinite an error that leaves the gradient alone.
  p.set_grad(from_vector(std::vector<float>{std::nanf(""), 3.0f}, {2}));
  WISP_REQUIRE_ERROR(nn::utils::clip_grad_norm_({p}, 1.0, 2.0, /*error_if_nonfinite=*/true), "total norm of order 2",
                     "nan");
  CHECK(values(p.grad())[1] == 3.0f);
  CHECK(std::isnan(nn::utils::clip_grad_norm_({p}, 1.0, std::numeric_limits<double>::infinity())));
  CHECK(std::isnan(nn::utils::clip_grad_norm_({p}, 1.0)));
  WISP_REQUIRE_ERROR(nn::utils::clip_grad_norm_({p}, 1.0, -1.0), "norm_type > 0", "-1");
}
