// mnist_train: trains one of the notebook's models on MNIST (or Fashion-MNIST) and reports, per
// epoch, the training and test loss and accuracy as the notebook does.
//
//   mnist_train --data datasets/mnist --model dense --epochs 20
//   mnist_train --device cuda          the model, the optimizer's state and each batch on GPU 0
//
// Exit codes: 0 success, 1 a failure while training, 2 bad arguments, missing data or a device that
// this build or machine does not have.
#include <CLI/CLI.hpp>

#include <climits>
#include <iomanip>
#include <iostream>
#include <optional>

#include "command_line.h"
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
  std::optional<bool> nesterov;  // unset: the model's
  double weight_decay = 0;
  uint64_t seed = 0;
  std::optional<int> threads;  // unset: the environment's or every usable core
  int64_t limit = -1;
  std::string metrics_path;
  std::string device = "cpu";
  int64_t rigl_delta_t = nn::kRiglDefaultDeltaT;
  std::optional<int64_t> rigl_t_end;
  double rigl_alpha = nn::kRiglDefaultAlpha;
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

int train(const Arguments& arguments, Device device) {
  const apps::ModelPreset& preset = apps::find_model_preset(arguments.model);
  // More threads than cores make OpenMP's spinning workers wait on one another: lowered, with a warning.
  const ThreadChoice threads = choose_num_threads(arguments.threads, "--threads");
  if (!threads.warning.empty()) std::cerr << "mnist_train: warning: " << threads.warning << "\n";
  set_num_threads(threads.threads);
  manual_seed(arguments.seed);

  // A metrics file that cannot be written is found before the data is read and the model built;
  // nothing is written before the first epoch ends (MetricsWriter replaces the file atomically).
  std::unique_ptr<apps::MetricsWriter> metrics;
  try {
    metrics = std::make_unique<apps::MetricsWriter>(arguments.metrics_path);
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what() << " (--metrics)\n";
    return 2;
  }

  // Optimizer settings the user got wrong (Nesterov with momentum 0) are found before the data is read.
  const optim::SGDOptions options = optim::SGDOptions(arguments.learning_rate.value_or(preset.learning_rate))
                                        .momentum(arguments.momentum.value_or(preset.momentum))
                                        .nesterov(arguments.nesterov.value_or(preset.nesterov))
                                        .weight_decay(arguments.weight_decay);
  try {
    options.check();
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what() << " (--lr, --momentum, --nesterov, --weight-decay)\n";
    return 2;
  }

  // Missing or malformed data is the user's to fix: exit code 2 with what to do.
  std::unique_ptr<data::MnistDataset> train_set, test_set;
  std::unique_ptr<data::DataLoader> train_loader, test_loader;
  try {
    train_set = std::make_unique<data::MnistDataset>(arguments.data_directory, data::Split::Train, arguments.limit);
    test_set = std::make_unique<data::MnistDataset>(arguments.data_directory, data::Split::Test);
    for (const data::MnistDataset* set : {train_set.get(), test_set.get()})
      WISP_CHECK(set->rows() == 28 && set->cols() == 28, "expected 28 x 28 images (the models take 784 inputs) but ",
                 set->images_path(), " holds ", set->rows(), " x ", set->cols(), " images");
    train_loader = std::make_unique<data::DataLoader>(
        *train_set, data::DataLoaderOptions().batch_size(arguments.batch_size).shuffle(true).drop_last(true));
    // The notebook's test loader drops the last partial batch too (9984 of 10000 images).
    test_loader = std::make_unique<data::DataLoader>(
        *test_set, data::DataLoaderOptions().batch_size(arguments.batch_size).shuffle(false).drop_last(true));
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what()
              << "\nmnist_train: fetch MNIST with `bash scripts/fetch_mnist.sh` (or Fashion-MNIST with "
                 "`bash scripts/fetch_fashion_mnist.sh`) and pass its folder with --data\n";
    return 2;
  }
  // The metrics file must not be one of the files just read (--metrics DIR/train-labels-idx1-ubyte).
  try {
    for (const data::MnistDataset* set : {train_set.get(), test_set.get()}) {
      const std::string split = set == train_set.get() ? "the training" : "the test";
      metrics->check_not_input(set->images_path(), split + " images file");
      metrics->check_not_input(set->labels_path(), split + " labels file");
    }
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what() << " (--metrics)\n";
    return 2;
  }
  // Both loaders keep only full batches (as the notebook's): fewer samples than one batch would
  // train or test on nothing.
  if (train_loader->size() == 0 || test_loader->size() == 0) {
    const bool training = train_loader->size() == 0;  // the set that has no full batch
    std::cerr << "mnist_train: --batch-size " << arguments.batch_size << " is larger than the "
              << (training ? "training" : "test") << " set (" << (training ? train_set : test_set)->size() << " samples"
              << (training && arguments.limit > 0 ? ", see --limit" : "") << "): no full batch to "
              << (training ? "train" : "test") << " on\n";
    return 2;
  }

  // RigL stops moving connections after 75% of the run's steps, as in the RigL paper.
  apps::ModelSettings settings;
  settings.rigl_delta_t = arguments.rigl_delta_t;
  settings.rigl_alpha = arguments.rigl_alpha;
  const int64_t total_steps = static_cast<int64_t>(train_loader->size()) * arguments.epochs;
  settings.rigl_t_end = arguments.rigl_t_end.value_or(total_steps * 3 / 4);
  std::shared_ptr<nn::Module> model = preset.build(settings);
  // Built (and initialised from the seed) on the CPU, then moved: the same seed gives the same
  // initial weights on every device. The optimizer is made after the move, so its state (momentum)
  // is created on the device too.
  model->to(device);
  optim::SGD optimizer(model->parameters(), options);

  std::cout << *model << "\n"
            << "parameters: " << model->num_parameters() << "; optimizer: " << options << "; threads "
            << get_num_threads() << "; device " << device << "; training samples "
            << static_cast<int64_t>(train_loader->size()) * arguments.batch_size << " of " << train_set->size()
            << ", test samples " << static_cast<int64_t>(test_loader->size()) * arguments.batch_size << " of "
            << test_set->size() << " (full batches of " << arguments.batch_size << ")\n";
  if (preset.dynamic)
    std::cout << "RigL: update every " << settings.rigl_delta_t << " steps until step " << settings.rigl_t_end << " of "
              << total_steps << ", initial drop fraction " << settings.rigl_alpha << "\n";
  double total_seconds = 0;
  apps::RiglTotals rigl_before = apps::rigl_totals(*model);
  for (int epoch = 1; epoch <= arguments.epochs; ++epoch) {
    const apps::EpochResult train_result =
        apps::train_epoch(*model, optimizer, *train_loader, device, "epoch " + std::to_string(epoch));
    std::cout << "Epoch " << epoch << "\n"
              << std::fixed << std::setprecision(4) << "Training Loss: " << train_result.loss
              << "; Training Acc: " << train_result.accuracy << std::setprecision(1) << " (" << train_result.seconds
              << " s)\n";
    const apps::EpochResult test_result = apps::evaluate(*model, *test_loader, device, "test");
    std::cout << std::setprecision(4) << "Test Loss: " << test_result.loss << "; Test Acc: " << test_result.accuracy
              << "\n";
    for (const apps::Activity& activity : test_result.activity)
      std::cout << std::setprecision(1) << "Active units after layer " << activity.layer << ": "
                << 100 * activity.active_fraction << "% per sample, " << 100 * activity.used_fraction
                << "% of units active at least once\n";
    const apps::RiglTotals rigl_now = apps::rigl_totals(*model);
    const int64_t moved = rigl_now.moved - rigl_before.moved;
    if (rigl_now.layers > 0)
      std::cout << "RigL: " << rigl_now.updates - rigl_before.updates << " updates moved " << moved << " connections ("
                << rigl_now.layers << " dynamic layers)\n";
    rigl_before = rigl_now;
    std::cout << "------------" << std::defaultfloat << std::endl;
    metrics->write(epoch, train_result, test_result, moved);
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
  app.add_option("--epochs", arguments.epochs, "number of epochs")
      ->capture_default_str()
      ->check(apps::whole_number(1, INT_MAX));
  app.add_option("--batch-size", arguments.batch_size, "samples per batch")
      ->capture_default_str()
      ->check(apps::whole_number(1, INT64_MAX));
  app.add_option("--lr", arguments.learning_rate, "learning rate (default: the model's)")
      ->check(apps::finite_number(0));
  app.add_option("--momentum", arguments.momentum, "SGD momentum (default: the model's)")
      ->check(apps::finite_number(0));
  // A plain bool, made optional after parsing: CLI11 2.1 sets an optional<bool> flag to false when absent.
  bool nesterov = false;
  CLI::Option* nesterov_flag = app.add_flag(
      "--nesterov", nesterov, "Nesterov momentum on (--nesterov) or off (--nesterov=false) (default: the model's)");
  app.add_option("--weight-decay", arguments.weight_decay, "L2 weight decay")
      ->capture_default_str()
      ->check(apps::finite_number(0));
  app.add_option("--seed", arguments.seed, "random seed (initialisation and shuffling)")
      ->capture_default_str()
      ->check(apps::whole_number(0, UINT64_MAX));
  app.add_option("--threads", arguments.threads,
                 "CPU threads (default: WISP_NUM_THREADS, else OMP_NUM_THREADS, else the cores this process may use); "
                 "never more than those cores (CPU affinity, cgroup CPU quota)")
      ->check(apps::whole_number(1, kMaxThreads));
  app.add_option("--device", arguments.device,
                 "where the model trains: cpu, cuda (GPU 0) or cuda:N; batches are copied there")
      ->capture_default_str();
  app.add_option("--limit", arguments.limit, "use only the first N training images (default: all)")
      ->check(apps::whole_number(1, INT64_MAX));
  app.add_option("--metrics", arguments.metrics_path,
                 "write per-epoch metrics to FILE: CSV, or JSON Lines when FILE ends in .jsonl/.json");
  app.add_option("--rigl-delta-t", arguments.rigl_delta_t, "RigL (dynamic model): optimizer steps between updates")
      ->capture_default_str()
      ->check(apps::whole_number(1, INT64_MAX));
  app.add_option("--rigl-t-end", arguments.rigl_t_end,
                 "RigL: last step that may update (default: 75% of the run's steps)")
      ->check(apps::whole_number(0, INT64_MAX));
  app.add_option("--rigl-alpha", arguments.rigl_alpha, "RigL: initial drop fraction, decayed by a cosine")
      ->capture_default_str()
      ->check(apps::finite_number(0, 1));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    std::cerr << "mnist_train: " << error.what() << " (see mnist_train --help)\n";
    return 2;
  }
  if (nesterov_flag->count() > 0) arguments.nesterov = nesterov;
  Device device;
  try {
    apps::find_model_preset(arguments.model);
    device = apps::parse_device(arguments.device);
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what() << " (see mnist_train --help)\n";
    return 2;
  }
  try {
    apps::check_device_usable(device);
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what() << "\n";
    return 2;
  }
  try {
    return train(arguments, device);
  } catch (const std::exception& error) {
    std::cerr << "mnist_train: " << error.what() << "\n";
    return 1;
  }
}
