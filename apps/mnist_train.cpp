// mnist_train: trains one of the notebook's models on MNIST (or Fashion-MNIST) and reports, per
// epoch, the training and test loss and accuracy as the notebook does.
//
//   mnist_train --data datasets/mnist --model dense --epochs 20
//   mnist_train --device cuda          the model, the optimizer's state and each batch on GPU 0
//   mnist_train --model dynamic --optimizer adamw --schedule warmup-cosine --warmup-steps 500 --erk
//   mnist_train --checkpoint-dir runs/a --keep-last 2   a checkpoint after every epoch, the last 2 kept
//   mnist_train --checkpoint-dir runs/a --resume latest  continues that run where it stopped, bit for bit
//   mnist_train --save model.safetensors                  the trained model, for --eval-only --load
//   mpirun -np 4 mnist_train --model sparse              data-parallel on 4 processes (docs/distributed.md)
//
// Exit codes: 0 success, 1 a failure while training, 2 bad arguments, missing data or a device that
// this build or machine does not have.
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <climits>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include "command_line.h"
#include "models.h"
#include "training.h"
#include "wisp/serialization/atomic_file.h"

using namespace wisp;

namespace {

struct Arguments {
  std::string data_directory = "datasets/mnist";
  std::string model = "dense";
  int epochs = 20;
  int64_t batch_size = 64;
  std::optional<double> learning_rate, momentum;
  std::optional<bool> nesterov;        // unset: the model's
  std::optional<double> weight_decay;  // unset: the optimizer's (0; AdamW 1e-2)
  std::string optimizer = "sgd";
  std::optional<std::string> betas;  // "B1,B2", Adam and AdamW
  std::optional<double> eps;
  std::string schedule = "constant";
  std::optional<int64_t> step_size, warmup_steps;
  std::optional<double> gamma, final_factor;
  std::optional<double> clip_grad_norm;
  std::optional<std::string> growth, init, compute_dtype;  // unset: gradient, uniform, float32
  bool erk = false;
  uint64_t seed = 0;
  std::optional<int> threads;  // unset: the environment's or every usable core
  int64_t limit = -1;
  std::string metrics_path;
  std::string device = "cpu";
  int64_t rigl_delta_t = nn::kRiglDefaultDeltaT;
  std::optional<int64_t> rigl_t_end;
  double rigl_alpha = nn::kRiglDefaultAlpha;
  std::string save_path;          // the final model (wisp::save)
  std::string checkpoint_folder;  // checkpoints (wisp::save_checkpoint) every checkpoint_every epochs
  std::optional<int64_t> checkpoint_every, keep_last;
  std::string resume;      // a checkpoint file, or "latest" in checkpoint_folder
  bool eval_only = false;  // evaluate load_path on the test set, train nothing
  std::string load_path;
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

// `value` in the stream's default format (std::cout's is set to fixed-point for the epoch lines).
std::string plain(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

// torch.optim.Adam's and AdamW's default: the presets' learning rates are SGD's.
constexpr double kAdamLearningRate = 1e-3;

// The presets that have `feature`, for messages: "dynamic, wide-dynamic".
std::string presets_with(bool apps::ModelPreset::*feature) {
  std::string names;
  for (const apps::ModelPreset& preset : apps::model_presets())
    if (preset.*feature) names += (names.empty() ? "" : ", ") + preset.name;
  return names;
}

// A flag that does not apply to the chosen optimizer, schedule or model is refused, not ignored.
void check_combinations(const Arguments& arguments, const apps::ModelPreset& preset) {
  const std::string& optimizer = arguments.optimizer;
  const bool sgd = optimizer == "sgd";
  WISP_CHECK(sgd || !arguments.momentum, "--momentum applies to --optimizer sgd, not ", optimizer,
             " (Adam's moment decay rates are --betas)");
  WISP_CHECK(sgd || !arguments.nesterov, "--nesterov applies to --optimizer sgd, not ", optimizer);
  WISP_CHECK(!sgd || !arguments.betas, "--betas applies to --optimizer adam and adamw, not sgd");
  WISP_CHECK(!sgd || !arguments.eps, "--eps applies to --optimizer adam and adamw, not sgd");
  const std::string& schedule = arguments.schedule;
  WISP_CHECK(schedule == "step" || (!arguments.step_size && !arguments.gamma),
             "--step-size and --gamma apply to --schedule step, not ", schedule);
  WISP_CHECK(schedule == "warmup-cosine" || !arguments.warmup_steps,
             "--warmup-steps applies to --schedule warmup-cosine, not ", schedule);
  WISP_CHECK(schedule != "warmup-cosine" || arguments.warmup_steps,
             "--schedule warmup-cosine needs --warmup-steps N (the optimizer steps of the linear warm-up)");
  WISP_CHECK(schedule == "cosine" || schedule == "warmup-cosine" || !arguments.final_factor,
             "--final-factor applies to --schedule cosine and warmup-cosine, not ", schedule);
  WISP_CHECK(preset.dynamic || !arguments.growth, "--growth applies to the models with dynamic connectivity (",
             presets_with(&apps::ModelPreset::dynamic), "), not ", preset.name);
  WISP_CHECK(preset.erk || !arguments.erk, "--erk applies to the models whose sparse layers all have a sparsity (",
             presets_with(&apps::ModelPreset::erk), "), not ", preset.name);
  WISP_CHECK(preset.sparse || !arguments.init, "--init applies to the models with SparseLinear layers (",
             presets_with(&apps::ModelPreset::sparse), "), not ", preset.name);
  WISP_CHECK(preset.sparse || !arguments.compute_dtype,
             "--compute-dtype applies to the models with SparseLinear layers (",
             presets_with(&apps::ModelPreset::sparse), "), not ", preset.name);
  const bool folder = !arguments.checkpoint_folder.empty();
  WISP_CHECK(folder || !arguments.checkpoint_every, "--checkpoint-every applies with --checkpoint-dir DIR");
  WISP_CHECK(folder || !arguments.keep_last, "--keep-last applies with --checkpoint-dir DIR");
  WISP_CHECK(folder || arguments.resume != "latest",
             "--resume latest needs --checkpoint-dir DIR (the folder to take the latest checkpoint from)");
  WISP_CHECK(!arguments.eval_only || !arguments.load_path.empty(), "--eval-only needs --load FILE (the model to test)");
  WISP_CHECK(arguments.eval_only || arguments.load_path.empty(),
             "--load applies with --eval-only (to continue training from a checkpoint, use --resume)");
  WISP_CHECK(!arguments.eval_only ||
                 (arguments.resume.empty() && !folder && arguments.save_path.empty() && arguments.metrics_path.empty()),
             "--eval-only trains nothing: it takes no --resume, --checkpoint-dir, --save or --metrics");
}

// A file the run will write at its end must be writable now, not after hours of training.
void check_writable_file(const std::string& path, const std::string& option) {
  namespace fs = std::filesystem;
  const fs::path file(path);
  WISP_CHECK(!path.empty() && path.back() != '/' && file.has_filename(), "cannot write ", option, " '", path,
             "': expected a file name");
  const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::error_code error;
  WISP_CHECK(fs::is_directory(folder, error), "cannot write ", option, " '", path, "': its folder '", folder.string(),
             "' does not exist");
  WISP_CHECK(::access(folder.c_str(), W_OK | X_OK) == 0, "cannot write ", option, " '", path, "': its folder '",
             folder.string(), "' is not writable");
  const fs::file_status status = fs::status(file, error);
  WISP_CHECK(!fs::exists(status) || fs::is_regular_file(status), "cannot write ", option, " '", path,
             "': it exists and is not a regular file");
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// --eval-only --load FILE: the model of FILE (a model file or a checkpoint) on the test set.
int evaluate_only(const Arguments& arguments, Device device) {
  const apps::ModelPreset& preset = apps::find_model_preset(arguments.model);
  std::unique_ptr<data::MnistDataset> test_set;
  std::unique_ptr<data::DataLoader> test_loader;
  try {
    WISP_CHECK(std::filesystem::is_regular_file(arguments.load_path), "--load ", arguments.load_path, ": no such file");
    test_set = std::make_unique<data::MnistDataset>(arguments.data_directory, data::Split::Test);
    WISP_CHECK(test_set->rows() == 28 && test_set->cols() == 28,
               "expected 28 x 28 images (the models take 784 inputs) but ", test_set->images_path(), " holds ",
               test_set->rows(), " x ", test_set->cols(), " images");
    test_loader = std::make_unique<data::DataLoader>(
        *test_set, data::DataLoaderOptions().batch_size(arguments.batch_size).shuffle(false).drop_last(true));
    WISP_CHECK(test_loader->size() > 0, "--batch-size ", arguments.batch_size, " is larger than the test set (",
               test_set->size(), " samples): no full batch to test on");
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what() << "\n";
    return 2;
  }
  apps::ModelSettings settings;  // the file gives the connections and values
  settings.rigl_delta_t = arguments.rigl_delta_t;
  settings.rigl_alpha = arguments.rigl_alpha;
  settings.rigl_t_end = arguments.rigl_t_end.value_or(0);
  settings.erk = arguments.erk;
  std::shared_ptr<nn::Module> model = preset.build(settings);
  const auto start = std::chrono::steady_clock::now();
  try {
    load(*model, arguments.load_path);
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what() << " (--load: a file saved from --model " << preset.name << ")\n";
    return 2;
  }
  std::cout << "loaded " << arguments.load_path << " into --model " << preset.name << " (" << std::fixed
            << std::setprecision(2) << seconds_since(start) << " s)" << std::defaultfloat << "\n";
  model->to(device);
  const apps::EpochResult result = apps::evaluate(*model, *test_loader, device, "test");
  std::cout << std::fixed << std::setprecision(4) << "Test Loss: " << result.loss << "; Test Acc: " << result.accuracy
            << " (" << result.samples << " test samples)\n";
  return 0;
}

// The optimizer's options from the flags; its schedule is added once the run's length is known.
apps::OptimizerOptions optimizer_options(const Arguments& arguments, const apps::ModelPreset& preset) {
  if (arguments.optimizer == "sgd")
    return optim::SGDOptions(arguments.learning_rate.value_or(preset.learning_rate))
        .momentum(arguments.momentum.value_or(preset.momentum))
        .nesterov(arguments.nesterov.value_or(preset.nesterov))
        .weight_decay(arguments.weight_decay.value_or(0));
  std::pair<double, double> betas{0.9, 0.999};
  if (arguments.betas) apps::parse_number_pair(*arguments.betas, 0, 1, betas);  // checked by its validator
  const auto adam_options = [&](auto options) {
    options.betas(betas.first, betas.second);
    if (arguments.eps) options.eps(*arguments.eps);
    if (arguments.weight_decay) options.weight_decay(*arguments.weight_decay);
    return options;
  };
  const double learning_rate = arguments.learning_rate.value_or(kAdamLearningRate);
  if (arguments.optimizer == "adam") return adam_options(optim::AdamOptions(learning_rate));
  return adam_options(optim::AdamWOptions(learning_rate));
}

// The learning-rate schedule over a run of `total_steps` optimizer steps, `steps_per_epoch` each epoch.
optim::Schedule make_schedule(const Arguments& arguments, int64_t total_steps, int64_t steps_per_epoch) {
  const double final_factor = arguments.final_factor.value_or(0);
  if (arguments.schedule == "step")
    return optim::step_decay(arguments.step_size.value_or(steps_per_epoch), arguments.gamma.value_or(0.1));
  if (arguments.schedule == "cosine") return optim::cosine(total_steps, final_factor);
  if (arguments.schedule == "warmup-cosine")
    return optim::warmup_cosine(arguments.warmup_steps.value_or(0), total_steps, final_factor);
  return optim::constant();
}

int train(const Arguments& arguments, Device device) {
  const apps::ModelPreset& preset = apps::find_model_preset(arguments.model);
  // More threads than cores make OpenMP's spinning workers wait on one another: lowered, with a warning.
  const ThreadChoice threads = choose_num_threads(arguments.threads, "--threads");
  if (!threads.warning.empty()) std::cerr << "mnist_train: warning: " << threads.warning << "\n";
  set_num_threads(threads.threads);
  manual_seed(arguments.seed);
  // Under an MPI launcher (mpirun -np N) the run is data-parallel: every rank trains on its shard of
  // each global batch of --batch-size; rank 0 prints and writes the metrics, checkpoints and model.
  distributed::ProcessGroup& group = distributed::default_group();
  const bool writer = group.rank() == 0;

  // A metrics file that cannot be written is found before the data is read and the model built;
  // nothing is written before the first epoch ends (MetricsWriter replaces the file atomically).
  std::unique_ptr<apps::MetricsWriter> metrics;
  try {
    metrics = std::make_unique<apps::MetricsWriter>(writer ? arguments.metrics_path : std::string());
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what() << " (--metrics)\n";
    return 2;
  }

  // Checkpoints and the final model are written after training: their places are checked now.
  std::optional<apps::CheckpointFolder> checkpoints;
  std::string resume_path;
  try {
    if (writer && !arguments.save_path.empty()) check_writable_file(arguments.save_path, "--save");
    if (writer && !arguments.checkpoint_folder.empty()) checkpoints.emplace(arguments.checkpoint_folder);
    if (!writer) {
      // Only rank 0 reads the checkpoint; the others receive its state with the initial broadcast.
    } else if (arguments.resume == "latest") {
      const auto latest = checkpoints->latest();
      WISP_CHECK(latest.has_value(), "--resume latest: no checkpoint (checkpoint-epoch-N.safetensors) in ",
                 checkpoints->folder());
      resume_path = latest->second;
    } else if (!arguments.resume.empty()) {
      WISP_CHECK(std::filesystem::is_regular_file(arguments.resume), "--resume ", arguments.resume,
                 ": no such checkpoint file");
      resume_path = arguments.resume;
    }
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what() << "\n";
    return 2;
  }

  // Optimizer settings the user got wrong (Nesterov with momentum 0) are found before the data is read.
  apps::OptimizerOptions options = optimizer_options(arguments, preset);
  try {
    apps::check_optimizer_options(options);
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what()
              << (arguments.optimizer == "sgd" ? " (--lr, --momentum, --nesterov, --weight-decay)\n"
                                               : " (--lr, --betas, --eps, --weight-decay)\n");
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
    // --batch-size is the global batch; each rank takes its interleaved shard of it. Every rank
    // shuffles from the default generator, which DataParallel makes identical on every rank.
    train_loader = std::make_unique<data::DataLoader>(*train_set, data::DataLoaderOptions()
                                                                      .batch_size(arguments.batch_size)
                                                                      .shuffle(true)
                                                                      .drop_last(true)
                                                                      .num_shards(group.size())
                                                                      .shard(group.rank()));
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

  // The schedule counts optimizer steps: one per training batch.
  const auto steps_per_epoch = static_cast<int64_t>(train_loader->size());
  const int64_t total_steps = steps_per_epoch * arguments.epochs;
  try {
    options = apps::with_schedule(options, make_schedule(arguments, total_steps, steps_per_epoch));
  } catch (const Error& error) {
    std::cerr << "mnist_train: " << error.what() << " (--schedule: the run has " << total_steps << " optimizer steps, "
              << steps_per_epoch << " per epoch)\n";
    return 2;
  }

  // RigL stops moving connections after 75% of the run's steps, as in the RigL paper.
  apps::ModelSettings settings;
  settings.rigl_delta_t = arguments.rigl_delta_t;
  settings.rigl_alpha = arguments.rigl_alpha;
  settings.rigl_t_end = arguments.rigl_t_end.value_or(total_steps * 3 / 4);
  settings.growth = arguments.growth.value_or("gradient") == "random" ? nn::Growth::Random : nn::Growth::Gradient;
  settings.init = arguments.init.value_or("uniform") == "fan-in" ? nn::SparseInit::FanIn : nn::SparseInit::Uniform;
  settings.compute_dtype = arguments.compute_dtype.value_or("float32") == "bfloat16" ? DType::BFloat16 : DType::Float32;
  settings.erk = arguments.erk;
  std::shared_ptr<nn::Module> model = preset.build(settings);
  // Built (and initialised from the seed) on the CPU, then moved: the same seed gives the same
  // initial weights on every device. The optimizer is made after the move, so its state (momentum)
  // is created on the device too.
  model->to(device);
  const std::unique_ptr<optim::Optimizer> optimizer = apps::make_optimizer(model->parameters(), options);
  apps::TrainOptions train_options;
  train_options.clip_grad_norm = arguments.clip_grad_norm;
  if (group.size() > 1)
    std::cout << "data-parallel: " << group.size() << " processes (" << group.backend() << "), global batch "
              << arguments.batch_size << ", threads per process " << get_num_threads() << "\n";

  std::cout << *model << "\n"
            << "parameters: " << model->num_parameters() << "; optimizer: " << apps::describe(options) << "; threads "
            << get_num_threads() << "; device " << device << "; training samples "
            << static_cast<int64_t>(train_loader->size()) * arguments.batch_size << " of " << train_set->size()
            << ", test samples " << static_cast<int64_t>(test_loader->size()) * arguments.batch_size << " of "
            << test_set->size() << " (full batches of " << arguments.batch_size << ")\n";
  if (preset.dynamic)
    std::cout << "RigL: update every " << settings.rigl_delta_t << " steps until step " << settings.rigl_t_end << " of "
              << total_steps << ", initial drop fraction " << settings.rigl_alpha << ", growth "
              << nn::to_string(settings.growth) << "\n";
  if (train_options.clip_grad_norm)
    std::cout << "gradient clipping: total 2-norm at most " << *train_options.clip_grad_norm << "\n";

  // Resuming: the checkpoint replaces the model, the optimizer, RigL's counters and the random
  // generator (from which the training loader shuffles each epoch), so the run continues as if it
  // had not stopped. The data and the schedule must be those of the checkpoint's run.
  int first_epoch = 1;
  if (writer && !resume_path.empty()) {
    TrainingState state;
    const auto start = std::chrono::steady_clock::now();
    try {
      state = load_checkpoint(resume_path, *model, *optimizer);
    } catch (const Error& error) {
      std::cerr << "mnist_train: " << error.what()
                << "\nmnist_train: --resume takes a checkpoint of a run with the same --model and model and optimizer "
                   "flags"
                << (preset.dynamic && !arguments.rigl_t_end
                        ? " (--rigl-t-end defaults to 75% of the run's steps, so --epochs changes it: pass the "
                          "checkpoint's run's value)"
                        : "")
                << "\n";
      return 2;
    }
    const double load_seconds = seconds_since(start);
    model->to(device);  // state the model did not have yet (k-winners' duty cycles) is loaded on the CPU
    if (state.step != optimizer->steps() || state.step != state.epoch * steps_per_epoch) {
      std::cerr << "mnist_train: --resume " << resume_path << ": the checkpoint is at epoch " << state.epoch
                << ", optimizer step " << state.step << ", but this run has " << steps_per_epoch
                << " steps per epoch: --limit and --batch-size must be the checkpoint's run's\n";
      return 2;
    }
    if (state.epoch >= arguments.epochs) {
      std::cerr << "mnist_train: --resume " << resume_path << ": the checkpoint is at epoch " << state.epoch
                << ", and --epochs is " << arguments.epochs << ": nothing left to train\n";
      return 2;
    }
    first_epoch = static_cast<int>(state.epoch) + 1;
    std::cout << "resumed from " << resume_path << ": epoch " << state.epoch << ", step " << state.step << " ("
              << std::fixed << std::setprecision(2) << load_seconds << " s)" << std::defaultfloat << "\n";
    int rows = 0;
    try {
      rows = metrics->resume(static_cast<int>(state.epoch));
    } catch (const Error& error) {
      std::cerr << "mnist_train: " << error.what() << " (--metrics)\n";
      return 2;
    }
    if (!arguments.metrics_path.empty())
      std::cout << "metrics: " << rows << " earlier epoch" << (rows == 1 ? "" : "s") << " kept from "
                << arguments.metrics_path << "\n";
  }
  // Data parallelism: rank 0's model, optimizer and generator (just resumed, or built from --seed)
  // replace every other rank's, and the epoch to start from follows.
  std::unique_ptr<distributed::DataParallel> data_parallel;
  if (group.size() > 1) {
    data_parallel = std::make_unique<distributed::DataParallel>(*model, *optimizer, group);
    Tensor epoch = from_vector(std::vector<int64_t>{first_epoch});
    group.broadcast(epoch, 0);
    first_epoch = static_cast<int>(epoch.item<int64_t>());
    model->to(device);
    train_options.data_parallel = data_parallel.get();
  }
  const int64_t checkpoint_every = arguments.checkpoint_every.value_or(1);

  double total_seconds = 0, training_seconds = 0;
  apps::RiglTotals rigl_before = apps::rigl_totals(*model);
  for (int epoch = first_epoch; epoch <= arguments.epochs; ++epoch) {
    const apps::EpochResult train_result =
        apps::train_epoch(*model, *optimizer, *train_loader, device, "epoch " + std::to_string(epoch), train_options);
    std::cout << "Epoch " << epoch << "\n"
              << std::fixed << std::setprecision(4) << "Training Loss: " << train_result.loss
              << "; Training Acc: " << train_result.accuracy << std::setprecision(1) << " (" << train_result.seconds
              << " s)\n";
    // The rate the next step will use, so a schedule's progress can be read off.
    if (arguments.schedule != "constant")
      std::cout << "Learning rate: " << plain(optimizer->learning_rate()) << " after step " << optimizer->steps()
                << "\n";
    if (train_options.clip_grad_norm)
      std::cout << "Gradient norm above " << plain(*train_options.clip_grad_norm) << " (clipped) in "
                << train_result.clipped_batches << " of " << steps_per_epoch << " batches; not finite in "
                << train_result.nonfinite_norm_batches << "\n";
    const apps::EpochResult test_result = apps::evaluate(*model, *test_loader, device, "test");
    std::cout << std::fixed << std::setprecision(4) << "Test Loss: " << test_result.loss
              << "; Test Acc: " << test_result.accuracy << "\n";
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
    training_seconds += train_result.seconds;
    // After the metrics: a crash between the two leaves a row the resumed run writes again.
    const bool checkpoint_now =
        !arguments.checkpoint_folder.empty() && (epoch % checkpoint_every == 0 || epoch == arguments.epochs);
    if (checkpoints && checkpoint_now) {
      TrainingState state;
      state.epoch = epoch;
      state.step = optimizer->steps();
      const std::string path = checkpoints->path(epoch);
      serialization::remove_stale_temporaries(path);  // left by a process killed while writing it
      const auto start = std::chrono::steady_clock::now();
      save_checkpoint(path, *model, *optimizer, state);
      std::cout << "checkpoint: " << path << " (" << std::fixed << std::setprecision(2) << seconds_since(start) << " s)"
                << std::defaultfloat << "\n";
      if (arguments.keep_last)
        for (const std::string& removed : checkpoints->keep_last(*arguments.keep_last))
          std::cout << "checkpoint: deleted " << removed << "\n";
    }
    if (checkpoint_now) group.barrier();  // the other ranks go on once the checkpoint is complete
  }
  if (writer && !arguments.save_path.empty()) {
    const auto start = std::chrono::steady_clock::now();
    save(*model, arguments.save_path);
    std::cout << "model saved to " << arguments.save_path << " (" << std::fixed << std::setprecision(2)
              << seconds_since(start) << " s)" << std::defaultfloat << "\n";
  }
  std::cout << "Training complete in " << std::fixed << std::setprecision(1) << total_seconds << " s\n";
  if (data_parallel) {  // what the synchronisations cost rank 0 (bench/distributed_bench.sh collects it)
    const distributed::DataParallelStatistics& statistics = data_parallel->statistics();
    const double steps = static_cast<double>(std::max<int64_t>(statistics.synchronizations, 1));
    const double training = std::max(training_seconds, 1e-9);
    std::cout << std::setprecision(3) << "data-parallel: " << statistics.synchronizations << " steps, "
              << static_cast<double>(statistics.bytes_synchronized) / steps / 1e6 << " MB sent per step; per step "
              << 1e3 * statistics.waiting_seconds / steps << " ms waiting for the other ranks and "
              << 1e3 * statistics.exchange_seconds / steps << " ms exchanging (" << std::setprecision(1)
              << 100 * statistics.waiting_seconds / training << "% and " << 100 * statistics.exchange_seconds / training
              << "% of the training time)\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Arguments arguments;
  CLI::App app{"Trains a model from the SparseLinear notebook on MNIST or Fashion-MNIST (IDX files, raw or .gz)."};
  app.footer(
      "Under mpirun -np N it trains data-parallel on N processes: --batch-size is the global batch, rank 0 "
      "prints and writes the files, --resume takes a checkpoint of any number of processes (docs/distributed.md).");
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
  app.add_option("--lr", arguments.learning_rate,
                 "learning rate (default: the model's with sgd, 1e-3 with adam and adamw)")
      ->check(apps::finite_number(0));
  app.add_option("--momentum", arguments.momentum, "SGD momentum (default: the model's)")
      ->check(apps::finite_number(0));
  // A plain bool, made optional after parsing: CLI11 2.1 sets an optional<bool> flag to false when absent.
  bool nesterov = false;
  CLI::Option* nesterov_flag = app.add_flag(
      "--nesterov", nesterov, "Nesterov momentum on (--nesterov) or off (--nesterov=false) (default: the model's)");
  app.add_option("--weight-decay", arguments.weight_decay,
                 "weight decay: L2 for sgd and adam, decoupled for adamw (default: 0; adamw 0.01)")
      ->check(apps::finite_number(0));
  app.add_option("--optimizer", arguments.optimizer,
                 "sgd (with the model's lr and momentum), adam or adamw (lr 1e-3 unless --lr)")
      ->capture_default_str()
      ->check(apps::one_of({"sgd", "adam", "adamw"}));
  app.add_option("--betas", arguments.betas, "adam, adamw: the moments' decay rates B1,B2 (default: 0.9,0.999)")
      ->check(apps::number_pair(0, 1));
  app.add_option("--eps", arguments.eps, "adam, adamw: the denominator's epsilon (default: 1e-8)")
      ->check(apps::finite_number(0));
  app.add_option("--schedule", arguments.schedule,
                 "learning-rate schedule over optimizer steps (one per batch): constant; step (x --gamma every "
                 "--step-size steps); cosine (down to --final-factor x lr at the last step); warmup-cosine "
                 "(linear warm-up over --warmup-steps, then cosine)")
      ->capture_default_str()
      ->check(apps::one_of({"constant", "step", "cosine", "warmup-cosine"}));
  app.add_option("--step-size", arguments.step_size, "--schedule step: steps between decays (default: one epoch's)")
      ->check(apps::whole_number(1, INT64_MAX));
  app.add_option("--gamma", arguments.gamma, "--schedule step: the factor of each decay (default: 0.1)")
      ->check(apps::finite_number(0));
  app.add_option("--warmup-steps", arguments.warmup_steps,
                 "--schedule warmup-cosine: optimizer steps of the linear warm-up (required; fewer than the run's)")
      ->check(apps::whole_number(0, INT64_MAX));
  app.add_option("--final-factor", arguments.final_factor,
                 "--schedule cosine, warmup-cosine: the lr at the end, as a fraction of --lr (default: 0)")
      ->check(apps::finite_number(0, 1));
  app.add_option("--clip-grad-norm", arguments.clip_grad_norm,
                 "scale the gradients before each step so that their total 2-norm is at most X")
      ->check(apps::positive_number());
  app.add_option("--seed", arguments.seed, "random seed (initialisation and shuffling)")
      ->capture_default_str()
      ->check(apps::whole_number(0, UINT64_MAX));
  app.add_option("--threads", arguments.threads,
                 "CPU threads (default: WISP_NUM_THREADS, else OMP_NUM_THREADS, else the cores this process may use); "
                 "never more than those cores (CPU affinity, cgroup CPU quota)")
      ->check(apps::whole_number(1, kMaxThreads));
  app.add_option("--device", arguments.device,
                 "where the model trains: cpu, cuda (GPU 0; under mpirun GPU local-rank mod GPUs) or cuda:N; batches "
                 "are copied there")
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
  app.add_option("--growth", arguments.growth,
                 "dynamic models: where connections grow, gradient (RigL) or random (SET) (default: gradient)")
      ->check(apps::one_of({"gradient", "random"}));
  app.add_flag("--erk", arguments.erk,
               "sparse models: spread the model's sparsity over its layers by an Erdos-Renyi-Kernel budget "
               "(small layers keep more connections) instead of giving every layer that sparsity");
  app.add_option("--init", arguments.init,
                 "sparse models: SparseLinear initialisation, uniform (U(-1/sqrt(in), 1/sqrt(in))) or fan-in "
                 "(U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with each unit's own connections) (default: uniform)")
      ->check(apps::one_of({"uniform", "fan-in"}));
  app.add_option("--compute-dtype", arguments.compute_dtype,
                 "sparse models: what SparseLinear's kernels read, float32 (exact) or bfloat16 (a bfloat16 copy of "
                 "the float32 weights, refreshed by each optimizer step; float32 inputs and sums; 4 bytes per "
                 "connection instead of 6) (default: float32)")
      ->check(apps::one_of({"float32", "bfloat16"}));
  app.add_option("--save", arguments.save_path, "write the trained model to FILE (safetensors, wisp::save)");
  app.add_option("--checkpoint-dir", arguments.checkpoint_folder,
                 "write a training checkpoint to DIR/checkpoint-epoch-NNNN.safetensors every --checkpoint-every epochs "
                 "and after the last (created if missing)");
  app.add_option("--checkpoint-every", arguments.checkpoint_every,
                 "--checkpoint-dir: epochs between checkpoints (default: 1)")
      ->check(apps::whole_number(1, INT_MAX));
  app.add_option("--keep-last", arguments.keep_last,
                 "--checkpoint-dir: keep only the K latest checkpoints (older ones are deleted after a new one is "
                 "written)")
      ->check(apps::whole_number(1, INT_MAX));
  app.add_option("--resume", arguments.resume,
                 "continue the run of a checkpoint FILE, or of the latest one in --checkpoint-dir (latest), bit for "
                 "bit; the other flags must be the checkpoint's run's (--epochs may grow)");
  app.add_flag("--eval-only", arguments.eval_only, "evaluate the model of --load FILE on the test set, train nothing");
  app.add_option("--load", arguments.load_path,
                 "--eval-only: the model file (--save) or checkpoint to evaluate, saved from the same --model");
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
    check_combinations(arguments, apps::find_model_preset(arguments.model));
    device = apps::device_for_local_rank(arguments.device, apps::parse_device(arguments.device));
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
  int status = 1;
  try {
    // Ranks other than 0 of a data-parallel run print nothing but errors.
    if (distributed::default_group().rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr)
      std::cerr << "mnist_train: warning: cannot silence this rank's output\n";
    status = arguments.eval_only ? evaluate_only(arguments, device) : train(arguments, device);
  } catch (const std::exception& error) {
    std::cerr << "mnist_train: " << error.what() << "\n";
  }
  // A rank that fails alone would leave the others waiting in their next collective: end the job.
  if (status != 0 && distributed::launched_by_mpi()) {
    try {
      if (distributed::default_group().size() > 1) distributed::default_group().abort_job(status);
    } catch (const std::exception&) {  // no group to end (a build without MPI): this process ends alone
    }
  }
  return status;
}
