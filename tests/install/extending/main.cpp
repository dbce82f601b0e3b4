// Tests of the custom op and module without a test framework: each check prints what failed, and
// main returns nonzero if any did (ctest, or any CI, reads the exit status).
#include <wisp/wisp.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "centered_softplus.h"
#include "softplus.h"

using namespace wisp;

namespace {

int failures = 0;

void check(bool condition, const std::string& what) {
  if (!condition) {
    std::cerr << "FAILED: " << what << "\n";
    ++failures;
  }
}

bool close(float actual, double expected, double tolerance = 1e-5) {
  return std::abs(actual - expected) <= tolerance * (1 + std::abs(expected));
}

// check_gradients compares the tape's gradients with finite differences; the message lists mismatches.
void check_gradients_of(const std::string& what, const std::function<Tensor(const std::vector<Tensor>&)>& function,
                        const std::vector<Tensor>& inputs) {
  const autograd::GradientCheckResult result = autograd::check_gradients(function, inputs);
  check(result.ok && result.checked_elements > 0, what + ": " + result.message);
}

void test_softplus() {
  const Tensor x = from_vector(std::vector<float>{-30, -1, 0, 2, 30});
  const std::vector<float> y = example::softplus(x).to_vector<float>();
  check(close(y[0], std::exp(-30.0)) && close(y[1], std::log1p(std::exp(-1.0))) && close(y[2], std::log(2.0)) &&
            close(y[3], std::log1p(std::exp(2.0))) && close(y[4], 30.0),
        "softplus matches log(1 + exp(x))");

  manual_seed(0);
  check_gradients_of("softplus, beta 2", [](const std::vector<Tensor>& in) { return example::softplus(in[0], 2.0); },
                     {randn({3, 4})});
  // Composed with built-in ops before and after it.
  check_gradients_of("softplus in a composition",
                     [](const std::vector<Tensor>& in) { return (example::softplus(in[0] * in[1]) * in[1]).sum(1); },
                     {randn({2, 3}), randn({3})});

  Tensor w = randn({4});
  w.set_requires_grad(true);
  check(example::softplus(w).grad_fn_name() == "SoftplusBackward", "softplus records one entry");
  {
    NoGradGuard no_grad;  // evaluation: nothing is recorded
    check(!example::softplus(w).requires_grad(), "softplus under NoGradGuard is not recorded");
  }
  try {
    example::softplus(zeros({2}, DType::Int64));
    check(false, "softplus of an int64 tensor throws");
  } catch (const Error& error) {
    check(std::string(error.what()).find("expected a float32 CPU tensor but got int64") != std::string::npos,
          std::string("softplus's error says what it expected: ") + error.what());
  }
}

void test_centered_softplus() {
  manual_seed(1);
  example::CenteredSoftplus block(4, 3, 0.5);

  std::ostringstream printed;
  printed << block;
  check(printed.str().find("CenteredSoftplus(\n  in_features=4, out_features=3, momentum=0.5\n  (fc): Linear(") == 0,
        "the module prints itself and its child:\n" + printed.str());
  std::vector<std::string> names;
  for (const auto& [name, parameter] : block.named_parameters()) names.push_back(name);
  check(names == std::vector<std::string>{"scale", "fc.weight", "fc.bias"}, "parameters: its own, then its child's");
  check(block.named_buffers().size() == 1 && block.named_buffers()[0].first == "running_mean", "one buffer");

  // Training: centred by the batch mean, which also moves running_mean halfway (momentum 0.5).
  const Tensor x = randn({5, 4});
  const Tensor y = block(x);
  const std::vector<float> column_means = y.mean(0).to_vector<float>();
  for (float m : column_means) check(std::abs(m) < 1e-5f, "training output has zero mean per feature");
  Tensor batch_mean;
  {
    NoGradGuard no_grad;
    const Tensor weight = block.parameters()[1], bias = block.parameters()[2];  // fc.weight, fc.bias
    batch_mean = mean(example::softplus(linear(x, weight, bias)), 0);
  }
  const std::vector<float> expected_running = (batch_mean * 0.5).to_vector<float>();
  const std::vector<float> running = block.running_mean().to_vector<float>();
  for (size_t i = 0; i < running.size(); ++i) check(close(running[i], expected_running[i]), "running_mean updated");

  // Evaluation: centred by running_mean, which stays as it is.
  block.eval();
  const std::vector<float> eval_out = block(x).to_vector<float>();
  check(block.running_mean().to_vector<float>() == running, "evaluation leaves running_mean alone");
  const std::vector<float> eval_expected = (y.detach() + batch_mean * 0.5).to_vector<float>();  // scale is 1
  for (size_t i = 0; i < eval_out.size(); ++i)
    check(close(eval_out[i], eval_expected[i], 1e-4), "evaluation output is centred by running_mean");

  // Gradients with respect to the input, in both modes.
  check_gradients_of("CenteredSoftplus, evaluation", [&block](const std::vector<Tensor>& in) { return block(in[0]); },
                     {randn({3, 4})});
  block.train();
  check_gradients_of("CenteredSoftplus, training", [&block](const std::vector<Tensor>& in) { return block(in[0]); },
                     {randn({3, 4})});

  // It trains like any module: a few SGD steps lower a regression loss.
  const Tensor target = randn({5, 3});
  optim::SGD optimizer(block.parameters(), optim::SGDOptions(0.1));
  const auto loss_now = [&] { return mse_loss(block(x), target); };
  const float first = loss_now().item<float>();
  for (int step = 0; step < 20; ++step) {
    optimizer.zero_grad();
    loss_now().backward();
    optimizer.step();
  }
  check(loss_now().item<float>() < first, "SGD lowers the loss");
}

}  // namespace

int main() {
  try {
    test_softplus();
    test_centered_softplus();
  } catch (const std::exception& error) {
    std::cerr << "FAILED: unexpected exception: " << error.what() << "\n";
    return 1;
  }
  std::printf("extending_test: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
