// A user program written against the installed wisp (the README's example, with checks): builds
// tensors, differentiates with autograd, trains a layer on batches from a DataLoader and checks the
// results. Returns nonzero on any mismatch. It also includes its own data/dataset.h, whose Batch
// differs from wisp::data::Batch (CMakeLists.txt says why).
#include <wisp/wisp.h>

#include "data/dataset.h"  // this project's, not wisp's

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

    // A layer, an optimizer and a loader over an in-memory dataset: each step lowers the loss of
    // a fixed batch (a small learning rate on a convex problem).
    Tensor inputs = randn({16, 4});
    Tensor classes = from_vector(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0});
    data::TensorDataset dataset(inputs, classes);
    data::DataLoader loader(dataset, data::DataLoaderOptions().batch_size(8).shuffle(true).seed(1));
    nn::Linear layer(4, 3);
    optim::SGD optimizer(layer.parameters(), optim::SGDOptions(0.05));
    const auto full_loss = [&] {
      NoGradGuard no_grad;
      return cross_entropy(layer(inputs), classes).item<float>();
    };
    const float loss_before = full_loss();
    int64_t batches = 0;
    for (int epoch = 0; epoch < 3; ++epoch) {
      for (const data::Batch& batch : loader) {
        optimizer.zero_grad();
        cross_entropy(layer(batch.data), batch.target).backward();
        optimizer.step();
        ++batches;
      }
    }
    expect(batches == 6, "3 epochs of 16 samples in batches of 8 give 6 batches");
    expect(full_loss() < loss_before, "training with SGD lowers the loss");

    // The project's own Batch, next to wisp's.
    const Batch own = make_batch({"a.png", "b.png"});
    expect(own.file_names.size() == 2, "the project's own Batch (data/dataset.h) is usable");

    std::printf("consumer: wisp %s (CUDA backend %s, %d GPU(s)): %s\n", WISP_VERSION, WISP_WITH_CUDA ? "on" : "off",
                cuda::device_count(), failures == 0 ? "ok" : "FAILED");
    return failures == 0 ? 0 : 1;
  } catch (const Error& error) {
    std::fprintf(stderr, "consumer: wisp::Error: %s\n", error.what());
    return 1;
  }
}
