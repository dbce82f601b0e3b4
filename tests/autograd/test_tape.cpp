// The tape: recording, backward, accumulation, freeing, and the errors around them.
#include <memory>
#include <thread>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::values;

TEST_CASE("backward of a scalar accumulates into leaves", "[autograd]") {
  Tensor a = from_vector(std::vector<float>{1, -2, 3});
  a.set_requires_grad(true);
  (a * a).sum().backward();
  CHECK(values(a.grad()) == std::vector<float>{2, -4, 6});
  // A second, independent graph accumulates into the same .grad.
  (a * 3.0).sum().backward();
  CHECK(values(a.grad()) == std::vector<float>{5, -1, 9});
  a.set_grad(Tensor());
  CHECK_FALSE(a.grad().defined());
}

TEST_CASE("a tensor used twice receives both gradients", "[autograd]") {
  Tensor x = from_vector(std::vector<float>{2, 3});
  x.set_requires_grad(true);
  Tensor y = x * x + x;  // dy/dx = 2x + 1
  Tensor z = y * y;      // dz/dx = 2y (2x + 1)
  z.sum().backward();
  CHECK(values(x.grad()) == std::vector<float>{2 * 6 * 5, 2 * 12 * 7});
}

TEST_CASE("two independent losses back-propagate one after the other", "[autograd]") {
  Tensor a = from_vector(std::vector<float>{1, 2});
  Tensor b = from_vector(std::vector<float>{3, 4});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor loss_a = (a * a).sum();
  Tensor loss_b = (b * 2.0).sum();
  loss_a.backward();
  loss_b.backward();
  CHECK(values(a.grad()) == std::vector<float>{2, 4});
  CHECK(values(b.grad()) == std::vector<float>{2, 2});
}

TEST_CASE("backward through freed entries is an error", "[autograd]") {
  Tensor a = ones({2});
  a.set_requires_grad(true);
  Tensor loss = (a * a).sum();
  loss.backward();
  WISP_REQUIRE_ERROR(loss.backward(), "SumBackward", "already used and freed");
}

TEST_CASE("leaf gradients never alias each other", "[autograd]") {
  Tensor x = zeros({2}), y = zeros({2});
  x.set_requires_grad(true);
  y.set_requires_grad(true);
  (x + y).sum().backward();
  CHECK(x.grad().raw_data() != y.grad().raw_data());
  {
    NoGradGuard no_grad;
    x.grad().mul_(10.0);
  }
  CHECK(values(y.grad()) == std::vector<float>{1, 1});
}

TEST_CASE("NoGradGuard stops recording and restores the previous mode", "[autograd]") {
  Tensor a = ones({3});
  a.set_requires_grad(true);
  CHECK(GradMode::is_enabled());
  {
    NoGradGuard no_grad;
    CHECK_FALSE(GradMode::is_enabled());
    Tensor b = a * 2.0;
    CHECK_FALSE(b.requires_grad());
    CHECK(b.is_leaf());
    { NoGradGuard nested; }
    CHECK_FALSE(GradMode::is_enabled());
  }
  CHECK(GradMode::is_enabled());
  CHECK((a * 2.0).requires_grad());
  CHECK_FALSE((ones({3}) * 2.0).requires_grad());  // no input needs grad: nothing recorded
}

TEST_CASE("entries are freed with the tensors that own them", "[autograd]") {
  Tensor w = randn({100});
  w.set_requires_grad(true);
  std::weak_ptr<autograd::Node> first_entry;
  {
    Tensor hidden = w * 2.0;
    Tensor out = (hidden + 1.0).sum();
    first_entry = hidden.impl()->grad_fn;
    REQUIRE_FALSE(first_entry.expired());
  }
  CHECK(first_entry.expired());

  // An evaluation loop that forgot NoGradGuard: memory stays bounded because each iteration's
  // entries die with its outputs.
  std::weak_ptr<autograd::Node> early;
  for (int step = 0; step < 2000; ++step) {
    Tensor loss = ((w * w) * 0.5).sum();
    if (step == 0) early = loss.impl()->grad_fn;
  }
  CHECK(early.expired());
}

TEST_CASE("autograd misuse gets clear errors", "[autograd]") {
  Tensor ints = zeros({2}, DType::Int64);
  WISP_REQUIRE_ERROR(ints.set_requires_grad(true), "only float32", "int64");
  Tensor a = ones({2});
  WISP_REQUIRE_ERROR(a.sum().backward(), "does not require grad");
  WISP_REQUIRE_ERROR(Tensor().backward(), "backward", "undefined tensor");
  a.set_requires_grad(true);
  Tensor b = a * 2.0;
  WISP_REQUIRE_ERROR(b.set_requires_grad(false), "only leaf", "MulBackward");
  WISP_REQUIRE_ERROR(b.backward(), "one-element outputs", "[2]");
  WISP_REQUIRE_ERROR(b.backward(ones({3})), "gradient of shape [2]", "got [3]");
  WISP_REQUIRE_ERROR(b.backward(zeros({2}, DType::Int64)), "gradient of dtype float32", "got int64");
  b.backward(from_vector(std::vector<float>{1, 10}));
  CHECK(values(a.grad()) == std::vector<float>{2, 20});
  WISP_REQUIRE_ERROR(a.add_(1.0), "in-place", "NoGradGuard");
  WISP_REQUIRE_ERROR(a.set_grad(ones({5})), "gradient of shape [2]", "[5]");
  WISP_REQUIRE_ERROR(a.set_grad(zeros({2}, DType::Int64)), "set_grad", "dtype float32", "got int64");
  WISP_REQUIRE_ERROR(a.set_grad(a), "set_grad: a tensor cannot be its own gradient");
  WISP_REQUIRE_ERROR(a.set_grad(a * 2.0), "set_grad: expected a gradient that does not require grad");
  a.set_grad((a * 2.0).detach());  // fine: plain data
  CHECK(a.grad().defined());
  {
    NoGradGuard no_grad;
    a.add_(1.0);  // allowed: this is how optimizers update parameters
  }
  CHECK(values(a) == std::vector<float>{2, 2});
}

TEST_CASE("a graph built on two threads back-propagates in order", "[autograd]") {
  // The worker records many entries first, so per-thread numbering would put its last entry after
  // the main thread's, and backward would run (and seed) the wrong entry first.
  for (const Shape& shape : {Shape{}, Shape{3}}) {
    INFO("shape " << shape);
    Tensor w = ones(shape);
    w.set_requires_grad(true);
    Tensor h;
    std::thread worker([&] {
      Tensor warm_up = w * 1.0;
      for (int i = 0; i < 100; ++i) warm_up = warm_up * 1.0;
      h = w * 2.0;
    });
    worker.join();
    (h * 3.0).sum().backward();
    CHECK(values(w.grad()) == std::vector<float>(static_cast<size_t>(w.numel()), 6.0f));
  }
}

TEST_CASE("backward refuses values that were updated in place after an op saved them", "[autograd]") {
  Tensor w = from_vector(std::vector<float>{1, 2});
  w.set_requires_grad(true);
  Tensor a = from_vector(std::vector<float>{3, 4});
  const uint64_t before = a.version();
  Tensor loss = (w * a).sum();  // MulBackward saves a: d loss / d w = a
  a.mul_(10.0);                 // allowed (a needs no gradient), but the saved values change
  CHECK(a.version() == before + 1);
  WISP_REQUIRE_ERROR(loss.backward(), "MulBackward", "updated in place", "shape [2]");

  // An op that saved nothing does not mind: d(x + 1)/dx does not depend on x.
  Tensor x = from_vector(std::vector<float>{1, 2});
  x.set_requires_grad(true);
  Tensor b = from_vector(std::vector<float>{5, 6});
  Tensor sum = (x + b).sum();
  b.fill_(0);
  sum.backward();
  CHECK(values(x.grad()) == std::vector<float>{1, 1});

  // An optimizer step between the forward and the backward changes the weights a product saved.
  Tensor input = from_vector(std::vector<float>{1, 1}, {1, 2});
  input.set_requires_grad(true);
  nn::Linear layer(2, 1);
  optim::SGD optimizer(layer.parameters(), optim::SGDOptions(0.1));
  Tensor first = layer(input).sum();
  first.backward();  // fine: nothing changed yet
  Tensor second = layer(input).sum();
  optimizer.step();  // updates the weight that LinearBackward saved for the input's gradient
  WISP_REQUIRE_ERROR(second.backward(), "LinearBackward", "updated in place");
}

TEST_CASE("in-place updates: an operand that requires grad is refused, a refused update counts nothing", "[autograd]") {
  Tensor w = from_vector(std::vector<float>{1, 2});
  w.set_requires_grad(true);
  Tensor accumulator = zeros({2});
  // Not recorded, so w's gradient would be lost (PyTorch records it): refused while recording.
  WISP_REQUIRE_ERROR(accumulator.add_(w), "add_: the operand requires grad", "out-of-place");
  WISP_REQUIRE_ERROR(accumulator.copy_(w * 2.0), "copy_: the operand requires grad");
  {
    NoGradGuard no_grad;
    accumulator.add_(w);  // fine: nothing is recorded anyway
  }
  CHECK(values(accumulator) == std::vector<float>{1, 2});

  Tensor a = from_vector(std::vector<float>{3, 4});
  Tensor loss = (w * a).sum();  // saves a
  const uint64_t version = a.version();
  WISP_REQUIRE_ERROR(a.add_(zeros({3})), "add: shapes [2] and [3] cannot be broadcast");  // nothing changed
  WISP_REQUIRE_ERROR(a.copy_(zeros({5})), "copy_: expected a source of shape [2]");
  CHECK(a.version() == version);
  loss.backward();
  CHECK(values(w.grad()) == std::vector<float>{3, 4});
}

TEST_CASE("adding into an existing .grad counts as an in-place update of it", "[autograd]") {
  Tensor w = from_vector(std::vector<float>{1, 2});
  w.set_requires_grad(true);
  (w * w).sum().backward();  // w.grad = [2, 4]
  Tensor v = from_vector(std::vector<float>{1, 1});
  v.set_requires_grad(true);
  const Tensor g = w.grad();
  Tensor uses_grad = (g * v).sum();  // saves g = [2, 4]
  (w * 3.0).sum().backward();        // w.grad becomes [5, 7] in place
  WISP_REQUIRE_ERROR(uses_grad.backward(), "MulBackward", "updated in place");
}

TEST_CASE("a long graph that is never back-propagated is freed without deep recursion", "[autograd]") {
  Tensor w = from_vector(std::vector<float>{1});
  w.set_requires_grad(true);
  {
    Tensor x = w;
    for (int step = 0; step < 300000; ++step) x = x * 1.0;  // a chain of 300000 entries
  }                                                         // freed here: recursively, this overflowed the stack
  CHECK(w.grad().defined() == false);
}

TEST_CASE("backward on several threads into one shared leaf loses no gradient", "[autograd]") {
  Tensor w = from_vector(std::vector<float>{0, 0});
  w.set_requires_grad(true);
  constexpr int kThreads = 4, kSteps = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&w] {
      for (int step = 0; step < kSteps; ++step) (w * 1.0).sum().backward();
    });
  for (std::thread& thread : threads) thread.join();
  CHECK(values(w.grad()) == std::vector<float>(2, static_cast<float>(kThreads * kSteps)));
}

TEST_CASE("a backward function returning a wrong shape is caught", "[autograd]") {
  Tensor a = ones({3});
  a.set_requires_grad(true);
  Tensor out = autograd::record("BrokenBackward", a.detach() * 2.0, {a},
                                [](const Tensor&) -> std::vector<Tensor> { return {ones({4})}; });
  WISP_REQUIRE_ERROR(out.sum().backward(), "BrokenBackward", "shape [4]", "expected [3]");
}

TEST_CASE("record needs a fresh output and checks the gradients a backward returns", "[autograd]") {
  Tensor x = ones({3});
  x.set_requires_grad(true);
  const auto reverse = [](const Tensor& g) -> std::vector<Tensor> { return {g * -1.0}; };
  // An identity forward must record a new tensor: recording onto x would make the leaf a non-leaf.
  WISP_REQUIRE_ERROR(autograd::record("ReverseBackward", x, {x}, reverse), "ReverseBackward",
                     "output is one of the inputs", "detach()");
  const Tensor y = x * 2.0;
  WISP_REQUIRE_ERROR(autograd::record("ReverseBackward", y, {x}, reverse), "already has a grad_fn (MulBackward)");
  Tensor reversed = autograd::record("ReverseBackward", x.detach(), {x}, reverse);
  CHECK(x.is_leaf());
  reversed.sum().backward();
  CHECK(values(x.grad()) == std::vector<float>{-1, -1, -1});
  // A backward returning an integer gradient is caught where it happens, naming the op.
  Tensor bad = autograd::record("IntegerBackward", x.detach() * 1.0, {x}, [](const Tensor& g) -> std::vector<Tensor> {
    return {zeros(g.shape(), DType::Int64)};
  });
  WISP_REQUIRE_ERROR(bad.sum().backward(), "IntegerBackward", "gradient of dtype int64", "expected float32");
}

TEST_CASE("record with recording off refuses inputs that require grad", "[autograd]") {
  Tensor w = from_vector(std::vector<float>{1, 2});
  w.set_requires_grad(true);
  const auto triple = [](const Tensor& g) -> std::vector<Tensor> { return {g * 3.0}; };
  // A custom forward that turned recording off around its record() call: unrecorded, the output
  // would silently cut w (the earlier layer) off from the loss.
  const auto forward_all_under_no_grad = [&](const Tensor& x) {
    NoGradGuard no_grad;
    return autograd::record("TripleBackward", x.detach() * 3.0, {x}, triple);
  };
  const Tensor hidden = w * 2.0;
  WISP_REQUIRE_ERROR(forward_all_under_no_grad(hidden), "record(TripleBackward)", "recording is off",
                     "input 0 requires grad", "needs_recording", "custom_op");
  WISP_REQUIRE_ERROR(forward_all_under_no_grad(w), "record(TripleBackward)", "recording is off");

  // Nothing requires grad: nothing to record, with recording on or off; the output comes back as is.
  const Tensor plain = from_vector(std::vector<float>{1, 2});
  const Tensor out = plain * 3.0;
  CHECK(autograd::record("TripleBackward", out, {plain}, triple).impl() == out.impl());
  {
    NoGradGuard no_grad;
    const Tensor unrecorded = w.detach() * 3.0;
    CHECK(autograd::record("TripleBackward", unrecorded, {plain, Tensor()}, triple).impl() == unrecorded.impl());
    CHECK_FALSE(unrecorded.requires_grad());
    // The built-in ops and layers check needs_recording first, so they run unrecorded here.
    nn::Linear layer(2, 3);
    const Tensor logits = layer(from_vector(std::vector<float>{1, -1}, {1, 2}));
    CHECK_FALSE(logits.requires_grad());
    CHECK_FALSE(cross_entropy(logits, from_vector(std::vector<int64_t>{1})).requires_grad());
  }

  // The right way: record only when needs_recording, after the guard has ended.
  const auto forward_right = [&](const Tensor& x) {
    Tensor result;
    {
      NoGradGuard no_grad;
      result = x.detach() * 3.0;
    }
    if (!autograd::needs_recording({x})) return result;
    return autograd::record("TripleBackward", result, {x}, triple);
  };
  (forward_right(w * 2.0)).sum().backward();
  CHECK(values(w.grad()) == std::vector<float>{6, 6});
  {
    NoGradGuard no_grad;
    CHECK_FALSE(forward_right(w).requires_grad());
  }
}

TEST_CASE("backward from a leaf seeds its own gradient", "[autograd]") {
  Tensor a = full({}, 3.0);
  a.set_requires_grad(true);
  a.backward();
  CHECK(a.grad().item<float>() == 1.0f);
}
