// mnist_train: trains one of the notebook's models on MNIST (or Fashion-MNIST) and reports, per
// epoch, the training and test loss and accuracy as the notebook does.
//
//   mnist_train --data datasets/mnist --model dense --epochs 20
//
// Exit codes: 0 success, 1 a failure while training, 2 bad arguments or missing data.
#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>
#include <optional>

#include "models.h"
#include "training.h"

using namespace wisp;

namespace {

struct Arguments {
  std::string data_directory = "datasets/mnist";
  std::string model = "dense";
  int epochs = 20;
  int64_t batch_size = 64;
  std::optional<double> learning_rate, momentum;
  bool nesterov = false;
  double weight_decay = 0;
  uint64_t seed = 0;
  int threads = 0;
  int64_t limit = -1;
  std::string metrics_path;
};

std::string model_help() {
  std::string text = "model to train:";
  for (const apps::ModelPreset& preset : apps::model_presets()) {
    std::ostringstream line;
    line << "\n  " << preset.name << ": " << preset.description << " (lr " << preset.learning_rate << ", momentum "
         << preset.momentum << (preset.nesterov ? ", Nesterov" : "") << ")";
    text += line.str();
  }
  return text;
}

int train(const Arguments& arguments) {
  const apps::ModelPreset& preset = apps::find_model_preset(arguments.model);
  if (arguments.threads > 0) set_num_threads(arguments.threads);
  manual_seed(arguments.seed);

  // Missing or malformed data is the user's to fix: exit code 2 with what to do.
  std::unique_ptr<data::MnistDataset> train_set, test_set;
  try {
    train_set = std::make_unique<data::MnistDataset>(arguments.data_directory, data::Split::Train, arguments.limit);
    test_set = std::make_unique<data::MnistDataset>(arguments.data_directory, data::Split::Test);
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what()
              << "\nmnist_train: fetch MNIST with `bash scripts/fetch_mnist.sh` (or Fashion-MNIST with "
                 "`bash scripts/fetch_fashion_mnist.sh`) and pass its folder with --data\n";
    return 2;
  }

  std::shared_ptr<nn::Module> model = preset.build();
  const double learning_rate = arguments.learning_rate.value_or(preset.learning_rate);
  const double momentum = arguments.momentum.value_or(preset.momentum);
  optim::SGDOptions options = optim::SGDOptions(learning_rate)
                                  .momentum(momentum)
                                  .nesterov(arguments.nesterov || preset.nesterov)
                                  .weight_decay(arguments.weight_decay);
  optim::SGD optimizer(model->parameters(), options);

  data::DataLoader train_loader(*train_set,
                                data::DataLoaderOptions().batch_size(arguments.batch_size).shuffle(true).drop_last(true));
  // The notebook's test loader drops the last partial batch too (9984 of 10000 images).
  data::DataLoader test_loader(*test_set,
                               data::DataLoaderOptions().batch_size(arguments.batch_size).shuffle(false).drop_last(true));

  std::cout << *model << "\n"
            << "parameters: " << model->num_parameters() << "; optimizer: " << options << "; threads "
            << get_num_threads() << "; training samples " << train_set->size() << ", test samples "
            << test_set->size() << "\n";
  apps::MetricsWriter metrics(arguments.metrics_path);
  const Device device = Device::cpu();
  double total_seconds = 0;
  for (int epoch = 1; epoch <= arguments.epochs; ++epoch) {
    const apps::EpochResult train_result =
        apps::train_epoch(*model, optimizer, train_loader, device, "epoch " + std::to_string(epoch));
    std::cout << "Epoch " << epoch << "\n"
              << std::fixed << std::setprecision(4) << "Training Loss: " << train_result.loss
              << "; Training Acc: " << train_result.accuracy << std::setprecision(1) << " (" << train_result.seconds
              << " s)\n";
    const apps::EpochResult test_result = apps::evaluate(*model, test_loader, device, "test");
    std::cout << std::setprecision(4) << "Test Loss: " << test_result.loss << "; Test Acc: " << test_result.accuracy
              << "\n------------" << std::defaultfloat << std::endl;
    metrics.write(epoch, train_result, test_result);
    total_seconds += train_result.seconds + test_result.seconds;
  }
  std::cout << "Training complete in " << std::fixed << std::setprecision(1) << total_seconds << " s\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Arguments arguments;
  CLI::App app{"Trains a model from the SparseLinear notebook on MNIST or Fashion-MNIST (IDX files, raw or .gz)."};
  app.add_option("--data", arguments.data_directory,
                 "folder with the IDX files (train-images-idx3-ubyte[.gz], ...); fetch with scripts/fetch_mnist.sh")
      ->capture_default_str();
  app.add_option("--model", arguments.model, model_help())->capture_default_str();
  app.add_option("--epochs", arguments.epochs, "number of epochs")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch-size", arguments.batch_size, "samples per batch")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--lr", arguments.learning_rate, "learning rate (default: the model's)")->check(CLI::NonNegativeNumber);
  app.add_option("--momentum", arguments.momentum, "SGD momentum (default: the model's)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--nesterov", arguments.nesterov, "use Nesterov momentum");
  app.add_option("--weight-decay", arguments.weight_decay, "L2 weight decay")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", arguments.seed, "random seed (initialisation and shuffling)")->capture_default_str();
  app.add_option("--threads", arguments.threads, "CPU threads (default: all cores)")->check(CLI::PositiveNumber);
  app.add_option("--limit", arguments.limit, "use only the first N training images (default: all)")
      ->check(CLI::PositiveNumber);
  app.add_option("--metrics", arguments.metrics_path,
                 "write per-epoch metrics to FILE: CSV, or JSON Lines when FILE ends in .jsonl/.json");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    std::cerr << "mnist_train: " << error.what() << " (see mnist_train --help)\n";
    return 2;
  }
  try {
    apps::find_model_preset(arguments.model);
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what() << " (see mnist_train --help)\n";
    return 2;
  }
  try {
    return train(arguments);
  } catch (const std::exception& error) {
    std::cerr << "mnist_train: " << error.what() << "\n";
    return 1;
  }
}
