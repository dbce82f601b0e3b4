// A user program written against the installed wisp (the README's example, with checks): builds
// tensors, differentiates with autograd and checks the results. Returns nonzero on any mismatch.
#include <wisp/wisp.h>

#include <cmath>
#include <cstdio>
#include <vector>

using namespace wisp;

namespace {

int failures = 0;

void expect(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "consumer: FAILED: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  try {
    manual_seed(0);

    // d/da sum(a * a) = 2a
    Tensor a = randn({3, 4});
    a.set_requires_grad(true);
    Tensor square_sum = (a * a).sum();
    square_sum.backward();
    const std::vector<float> values = a.to_vector<float>();
    const std::vector<float> grad = a.grad().to_vector<float>();
    expect(grad.size() == values.size(), "a.grad() has as many elements as a");
    double expected_sum = 0.0;
    for (size_t i = 0; i < values.size() && i < grad.size(); ++i) {
      expected_sum += static_cast<double>(values[i]) * values[i];
      if (std::abs(grad[i] - 2.0f * values[i]) > 1e-5f) {
        std::fprintf(stderr, "consumer: grad[%zu] = %g, expected 2 * %g\n", i, grad[i], values[i]);
        ++failures;
      }
    }
    expect(std::abs(square_sum.item<float>() - expected_sum) <= 1e-4 * (1.0 + expected_sum),
           "sum(a * a) equals the sum of squares");

    // One layer and a loss: logits = relu(x Wᵀ + b), cross-entropy against class indices.
    Tensor x = randn({8, 784});
    Tensor w = randn({10, 784});
    Tensor b = randn({10});
    w.set_requires_grad(true);
    b.set_requires_grad(true);
    Tensor labels = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
    Tensor loss = cross_entropy(relu(linear(x, w, b)), labels);
    loss.backward();
    expect(loss.numel() == 1 && std::isfinite(loss.item<float>()) && loss.item<float>() >= 0.0f,
           "cross_entropy gives one finite, non-negative loss");
    expect(w.grad().defined() && w.grad().shape() == w.shape(), "w.grad() has w's shape");
    expect(b.grad().defined() && b.grad().shape() == b.shape(), "b.grad() has b's shape");

    std::printf("consumer: wisp %s (CUDA backend %s, %d GPU(s)): %s\n", WISP_VERSION, WISP_WITH_CUDA ? "on" : "off",
                cuda::device_count(), failures == 0 ? "ok" : "FAILED");
    return failures == 0 ? 0 : 1;
  } catch (const Error& error) {
    std::fprintf(stderr, "consumer: wisp::Error: %s\n", error.what());
    return 1;
  }
}
