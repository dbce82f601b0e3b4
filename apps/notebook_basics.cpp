// The seed notebook's "Setup", "Training with random inputs" and dense "Training on MNIST"
// sections, written against wisp (the sparse halves of these sections arrive with SparseLinear;
// ../shared/spec/seed_notebook.cpp is the whole notebook).
//
//   notebook_basics [MNIST_DIR] [--epochs N] [--limit N]
//
// Without MNIST_DIR the MNIST section is skipped.
#include <wisp/wisp.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

using namespace wisp;

// Setup and attributes of a dense layer; tensors from values; autograd on plain tensors.
static void setup() {
  nn::Linear fc1(10, 20);
  std::cout << fc1 << "\n";
  std::cout << fc1.weight().shape() << " " << fc1.bias().shape() << "\n";  // [20, 10] [20]
  Tensor t = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor labels = from_vector(std::vector<int64_t>{3, 1}, {2});
  std::cout << t << "\n" << labels << "\n";
  Tensor a = randn({3});
  a.set_requires_grad(true);
  (a * a).sum().backward();  // d/da sum(a * a) = 2a
  std::cout << a << "\n" << a.grad() << "\n";
}

// A two-layer dense net on random data with plain gradient descent, as the notebook.
static void random_inputs() {
  const int64_t N = 64, D_in = 200, H = 1000, D_out = 10;
  Tensor x = randn({N, D_in});
  Tensor y = randn({N, D_out});
  // Braces: the layers are constructed (and initialised) left to right with every compiler.
  nn::Sequential model_dense{nn::Linear(D_in, H), nn::ReLU(), nn::Linear(H, D_out)};
  const float learning_rate_dense = 1e-4f;
  for (int t = 0; t < 500; ++t) {
    Tensor loss_dense = mse_loss(model_dense(x), y, Reduction::Sum);
    if (t % 100 == 99) std::cout << "Dense model loss: " << loss_dense.item<float>() << "\n";
    model_dense.zero_grad();
    loss_dense.backward();
    NoGradGuard no_grad;
    for (Tensor& p : model_dense.parameters()) p.sub_(p.grad() * learning_rate_dense);
  }
}

// The notebook's train_model for the dense model.
static void train_dense(const std::string& root, int epochs, int64_t limit) {
  data::MnistDataset train(root, data::Split::Train, limit), test(root, data::Split::Test);
  data::DataLoader train_loader(train, data::DataLoaderOptions().batch_size(64).shuffle(true).drop_last(true));
  data::DataLoader test_loader(test, data::DataLoaderOptions().batch_size(64).shuffle(false).drop_last(true));
  nn::Sequential model{nn::Flatten(), nn::Linear(784, 2000), nn::LayerNorm(2000), nn::ReLU(), nn::Linear(2000, 10)};
  optim::SGD optimizer(model.parameters(), optim::SGDOptions(1e-2).momentum(0.9));
  std::cout << model << "\n";
  const auto since = std::chrono::steady_clock::now();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    model.train();
    double cum_loss = 0;
    int64_t total = 0, correct = 0;
    for (const data::Batch& batch : train_loader) {
      Tensor out = model(batch.data);
      correct += (out.argmax(1) == batch.target).sum().item<int64_t>();
      total += batch.target.size(0);
      Tensor loss = cross_entropy(out, batch.target);
      cum_loss += loss.item<float>() * batch.target.size(0);
      loss.backward();
      optimizer.step();
      optimizer.zero_grad();
    }
    std::cout << "Epoch " << epoch + 1 << "\nTraining Loss: " << cum_loss / total
              << "; Training Acc: " << 100.0 * correct / total << "\n";
    model.eval();
    NoGradGuard no_grad;
    cum_loss = 0;
    total = correct = 0;
    for (const data::Batch& batch : test_loader) {
      Tensor out = model(batch.data);
      correct += (out.argmax(1) == batch.target).sum().item<int64_t>();
      total += batch.target.size(0);
      cum_loss += cross_entropy(out, batch.target).item<float>() * batch.target.size(0);
    }
    std::cout << "Test Loss: " << cum_loss / total << "; Test Acc: " << 100.0 * correct / total << "\n";
  }
  std::cout << "Training complete in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count() << " s\n";
}

int main(int argc, char** argv) {
  try {
    manual_seed(0);
    std::string root;
    int epochs = 20;
    int64_t limit = -1;
    for (int i = 1; i < argc; ++i) {
      const std::string argument = argv[i];
      if (argument == "--epochs" && i + 1 < argc) epochs = std::atoi(argv[++i]);
      else if (argument == "--limit" && i + 1 < argc) limit = std::atoll(argv[++i]);
      else root = argument;
    }
    setup();
    random_inputs();
    if (!root.empty()) train_dense(root, epochs, limit);
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
