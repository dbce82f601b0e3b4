#include "training.h"

#include <fcntl.h>
#include <sys/stat.h>  // stat, fchmod
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <type_traits>

#include "wisp/core/config.h"  // WISP_WITH_CUDA
#include "wisp/data/file_type.h"

namespace wisp::apps {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// A one-line progress bar redrawn in place; only on a terminal, so logs and pipes get plain lines.
class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total) : label_(std::move(label)), total_(total) {
    enabled_ = isatty(STDOUT_FILENO) == 1 && total_ > 0;
  }
  void update(int64_t done, double loss, double seconds) {
    if (!enabled_ || (done != total_ && done % 10 != 0)) return;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * done / total_);
    std::cout << "\r" << label_ << " [" << std::string(static_cast<size_t>(filled), '=')
              << std::string(static_cast<size_t>(kWidth - filled), ' ') << "] " << done << "/" << total_ << " loss "
              << std::fixed << std::setprecision(4) << loss << " " << std::setprecision(1) << seconds << " s"
              << std::defaultfloat << std::flush;
  }
  ~ProgressBar() {
    if (enabled_) std::cout << "\r\033[K" << std::flush;  // clear the line for the summary
  }

 private:
  std::string label_;
  int64_t total_;
  bool enabled_;
};

// Counts, per unit, the samples in which a [samples, units] activation is nonzero.
struct ActivityCounter {
  std::string layer;
  std::vector<int64_t> active_samples;  // per unit
  int64_t samples = 0, active_total = 0;

  void add(const Tensor& activation) {
    const int64_t units = activation.size(-1), rows = activation.numel() / units;
    if (active_samples.empty()) active_samples.assign(static_cast<size_t>(units), 0);
    const std::vector<float> values = activation.to_vector<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t u = 0; u < units; ++u)
        if (values[static_cast<size_t>(r * units + u)] != 0.0f) {
          ++active_samples[static_cast<size_t>(u)];
          ++active_total;
        }
    samples += rows;
  }

  Activity result() const {
    Activity activity;
    activity.layer = layer;
    const auto units = static_cast<double>(active_samples.size());
    if (samples == 0 || units == 0) return activity;
    activity.active_fraction = static_cast<double>(active_total) / (static_cast<double>(samples) * units);
    int64_t used = 0;
    for (int64_t count : active_samples) used += count > 0;
    activity.used_fraction = static_cast<double>(used) / units;
    return activity;
  }
};

bool is_activation_layer(const nn::Module& module) {
  return dynamic_cast<const nn::ReLU*>(&module) != nullptr ||
         dynamic_cast<const nn::ActivationSparsity*>(&module) != nullptr;
}

// model(input); for a Sequential, layer by layer, feeding the outputs of its activation layers to
// `counters` (created on first use, one per activation layer).
Tensor forward_measuring(nn::Module& model, const Tensor& input, std::vector<ActivityCounter>& counters) {
  auto* sequential = dynamic_cast<nn::Sequential*>(&model);
  if (sequential == nullptr) return model(input);
  Tensor x = input;
  size_t next = 0;
  const auto& children = sequential->named_children();
  for (const auto& [name, child] : children) {
    x = (*child)(x);
    if (!is_activation_layer(*child)) continue;
    if (next == counters.size()) counters.push_back(ActivityCounter{name + " (" + child->name() + ")", {}, 0, 0});
    counters[next++].add(x);
  }
  return x;
}

}  // namespace

Device parse_device(const std::string& text) {
  try {
    return Device(text);
  } catch (const Error& error) {
    WISP_FAIL("--device: ", error.what());
  }
}

Device device_for_local_rank(const std::string& text, Device device) {
  if (!device.is_cuda() || text != "cuda") return device;
  const char* local_rank = nullptr;
  for (const char* variable : {"OMPI_COMM_WORLD_LOCAL_RANK", "LOCAL_RANK", "MPI_LOCALRANKID"})
    if ((local_rank = std::getenv(variable)) != nullptr) break;
  if (local_rank == nullptr) return device;
#if WISP_WITH_CUDA
  const int gpus = cuda::device_count();
  if (gpus <= 0) return device;  // check_device_usable says why
  return Device::cuda(std::atoi(local_rank) % gpus);
#else
  return device;
#endif
}

void check_device_usable(const Device& device) {
  if (device.is_cpu()) return;
#if WISP_WITH_CUDA
  const int gpus = cuda::device_count();
  WISP_CHECK(gpus > 0, "cannot use device ", device,
             ": wisp was built with CUDA but the CUDA driver reports no usable GPU on this machine "
             "(nvidia-smi lists the GPUs; use --device cpu)");
  WISP_CHECK(device.index < gpus, "cannot use device ", device, ": expected a GPU index in [0, ", gpus, ") but got ",
             device.index);
#else
  WISP_FAIL("cannot use device ", device,
            ": this wisp was built without CUDA (no nvcc was found when it was configured, or WISP_CUDA=OFF); "
            "rebuild with the CUDA toolkit installed, or use --device cpu");
#endif
}

RiglTotals rigl_totals(const nn::Module& model) {
  RiglTotals totals;
  if (const auto* layer = dynamic_cast<const nn::SparseLinear*>(&model); layer != nullptr && layer->dynamic()) {
    const nn::RiglStatistics statistics = layer->rigl_statistics();
    ++totals.layers;
    totals.updates += statistics.updates;
    totals.moved += statistics.moved;
  }
  for (const std::shared_ptr<nn::Module>& child : model.children()) {
    const RiglTotals below = rigl_totals(*child);
    totals.layers += below.layers;
    totals.updates += below.updates;
    totals.moved += below.moved;
  }
  return totals;
}

void check_optimizer_options(const OptimizerOptions& options) {
  std::visit([](const auto& chosen) { chosen.check(); }, options);
}

OptimizerOptions with_schedule(OptimizerOptions options, const optim::Schedule& schedule) {
  std::visit([&](auto& chosen) { chosen.schedule(schedule); }, options);
  return options;
}

std::unique_ptr<optim::Optimizer> make_optimizer(std::vector<Tensor> parameters, const OptimizerOptions& options) {
  return std::visit(
      [&](const auto& chosen) -> std::unique_ptr<optim::Optimizer> {
        using Options = std::decay_t<decltype(chosen)>;
        if constexpr (std::is_same_v<Options, optim::SGDOptions>) {
          return std::make_unique<optim::SGD>(std::move(parameters), chosen);
        } else if constexpr (std::is_same_v<Options, optim::AdamOptions>) {
          return std::make_unique<optim::Adam>(std::move(parameters), chosen);
        } else {
          return std::make_unique<optim::AdamW>(std::move(parameters), chosen);
        }
      },
      options);
}

std::string describe(const OptimizerOptions& options) {
  std::ostringstream text;
  std::visit([&](const auto& chosen) { text << chosen; }, options);
  return text.str();
}

EpochResult train_epoch(nn::Module& model, optim::Optimizer& optimizer, data::DataLoader& loader, Device device,
                        const std::string& label, const TrainOptions& options) {
  model.train();
  const auto start = Clock::now();
  EpochResult result;
  double loss_sum = 0;
  int64_t correct = 0, batch_index = 0;
  ProgressBar bar(label, static_cast<int64_t>(loader.size()));
  distributed::DataParallel* const parallel = options.data_parallel;
  for (const data::Batch& batch : loader) {
    const Tensor images = batch.data.to(device), labels = batch.target.to(device);
    const int64_t samples = labels.size(0);
    if (samples == 0) {  // this rank's shard of a small global batch is empty: it only takes part
      if (parallel) parallel->step(0);
      optimizer.zero_grad();
      ++batch_index;
      continue;
    }
    const Tensor logits = model(images);
    const Tensor loss = cross_entropy(logits, labels);
    const float loss_value = loss.item<float>();
    WISP_CHECK(std::isfinite(loss_value), "training diverged: the loss of batch ", batch_index, " is ", loss_value,
               "; lower the learning rate (--lr)");
    loss.backward();
    if (parallel) parallel->synchronize(samples);
    if (options.clip_grad_norm) {
      const double norm = nn::utils::clip_grad_norm_(optimizer.parameters(), *options.clip_grad_norm);
      if (!std::isfinite(norm)) ++result.nonfinite_norm_batches;
      else if (*options.clip_grad_norm / (norm + 1e-6) < 1) ++result.clipped_batches;  // clip_grad_norm_'s test
    }
    if (parallel) parallel->optimizer_step();  // with the check that RigL moved the same connections everywhere
    else optimizer.step();
    optimizer.zero_grad();
    correct += (logits.argmax(1) == labels).sum().item<int64_t>();
    loss_sum += static_cast<double>(loss_value) * labels.size(0);
    result.samples += labels.size(0);
    ++batch_index;
    bar.update(batch_index, loss_sum / static_cast<double>(result.samples), seconds_since(start));
  }
  synchronize(device);  // a GPU may still run queued work: count it in this pass's time
  if (parallel) {       // the epoch's numbers over every rank's samples
    Tensor loss_total = from_vector(std::vector<float>{static_cast<float>(loss_sum)});
    Tensor counts = from_vector(std::vector<int64_t>{correct, result.samples});
    parallel->group().all_reduce(loss_total);
    parallel->group().all_reduce(counts);
    loss_sum = loss_total.item<float>();
    correct = counts.to_vector<int64_t>()[0];
    result.samples = counts.to_vector<int64_t>()[1];
  }
  result.loss = result.samples ? loss_sum / static_cast<double>(result.samples) : 0;
  result.accuracy = result.samples ? 100.0 * static_cast<double>(correct) / static_cast<double>(result.samples) : 0;
  result.seconds = seconds_since(start);
  return result;
}

EpochResult evaluate(nn::Module& model, data::DataLoader& loader, Device device, const std::string& label) {
  model.eval();
  NoGradGuard no_grad;
  const auto start = Clock::now();
  EpochResult result;
  double loss_sum = 0;
  int64_t correct = 0, batch_index = 0;
  std::vector<ActivityCounter> counters;
  ProgressBar bar(label, static_cast<int64_t>(loader.size()));
  for (const data::Batch& batch : loader) {
    const Tensor images = batch.data.to(device), labels = batch.target.to(device);
    const Tensor logits = forward_measuring(model, images, counters);
    loss_sum += static_cast<double>(cross_entropy(logits, labels, Reduction::Sum).item<float>());
    correct += (logits.argmax(1) == labels).sum().item<int64_t>();
    result.samples += labels.size(0);
    ++batch_index;
    bar.update(batch_index, loss_sum / static_cast<double>(result.samples), seconds_since(start));
  }
  synchronize(device);  // a GPU may still run queued work: count it in this pass's time
  result.loss = result.samples ? loss_sum / static_cast<double>(result.samples) : 0;
  // The last training step can diverge after its (finite) loss was taken: the test loss shows it.
  WISP_CHECK(std::isfinite(result.loss), "training diverged: the ", label, " loss is ", result.loss,
             "; lower the learning rate (--lr)");
  result.accuracy = result.samples ? 100.0 * static_cast<double>(correct) / static_cast<double>(result.samples) : 0;
  result.seconds = seconds_since(start);
  for (const ActivityCounter& counter : counters) result.activity.push_back(counter.result());
  return result;
}

MetricsWriter::MetricsWriter(const std::string& path) {
  if (path.empty()) return;
  namespace fs = std::filesystem;
  const auto ends_with = [&](const std::string& suffix) {
    return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  json_ = ends_with(".jsonl") || ends_with(".json");
  path_ = path;
  const std::string cannot = "cannot write the metrics file " + path + ": ";
  WISP_CHECK(!ends_with("/"), cannot, "expected a file name but it ends in '/'");
  // A link is followed, so that the link stays and the file it names is replaced.
  std::error_code error;  // a path that does not exist is no error here: the file is new
  const bool link = fs::is_symlink(fs::symlink_status(path, error));
  const fs::path target = link ? fs::weakly_canonical(path, error) : fs::path(path);
  WISP_CHECK(!link || !error, cannot, error.message());
  target_ = target.string();
  const fs::file_status status = fs::status(target, error);
  WISP_CHECK(!error || error == std::errc::no_such_file_or_directory, cannot, error.message());
  if (fs::exists(status)) {
    // /dev/stdout or a FIFO cannot be replaced by a rename (and /dev/full must not be).
    WISP_CHECK(fs::is_regular_file(status), cannot, "expected a regular file (or a new one) but it is ",
               data::describe_file_type(status.type()));
    WISP_CHECK(::access(target_.c_str(), W_OK) == 0, cannot, "it is read-only (", std::strerror(errno), ")");
    keep_mode_ = true;
    mode_ = static_cast<unsigned>(status.permissions());
  }
  error.clear();
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  WISP_CHECK(fs::is_directory(folder, error), cannot, "its folder '", folder.string(), "' ",
             error && error != std::errc::no_such_file_or_directory ? error.message()
             : fs::exists(folder, error)                            ? "is not a directory"
                                                                    : "does not exist");
  WISP_CHECK(::access(folder.c_str(), W_OK | X_OK) == 0, cannot, "its folder '", folder.string(), "' is not writable (",
             std::strerror(errno), ")");
  if (!json_)
    text_ =
        "epoch,train_loss,train_accuracy,test_loss,test_accuracy,train_seconds,test_seconds,active_fraction,"
        "units_used,rigl_moved\n";
}

void MetricsWriter::check_not_input(const std::string& input, const std::string& description) const {
  if (path_.empty()) return;
  struct stat output_info = {};
  struct stat input_info = {};
  if (::stat(target_.c_str(), &output_info) != 0 || ::stat(input.c_str(), &input_info) != 0) return;
  WISP_CHECK(output_info.st_dev != input_info.st_dev || output_info.st_ino != input_info.st_ino,
             "refusing to write the metrics file ", path_, ": it is ", description, " '", input,
             "' (the same file), which it would overwrite; name another file");
}

void MetricsWriter::write(int epoch, const EpochResult& train, const EpochResult& test, int64_t rigl_moved) {
  if (path_.empty()) return;
  std::ostringstream row;
  row << std::setprecision(8);
  // The first activation layer's activity (the presets have one); empty when not measured.
  const bool measured = !test.activity.empty();
  const double active = measured ? test.activity.front().active_fraction : 0.0;
  const double used = measured ? test.activity.front().used_fraction : 0.0;
  if (json_) {
    // JSON has no NaN or infinity: such a value is written as null.
    const auto number = [](double value) {
      std::ostringstream text;
      text << std::setprecision(8);
      if (std::isfinite(value)) text << value;
      else text << "null";
      return text.str();
    };
    row << "{\"epoch\": " << epoch << ", \"train_loss\": " << number(train.loss)
        << ", \"train_accuracy\": " << number(train.accuracy) << ", \"test_loss\": " << number(test.loss)
        << ", \"test_accuracy\": " << number(test.accuracy) << ", \"train_seconds\": " << number(train.seconds)
        << ", \"test_seconds\": " << number(test.seconds);
    if (measured) row << ", \"active_fraction\": " << number(active) << ", \"units_used\": " << number(used);
    row << ", \"rigl_moved\": " << rigl_moved << "}\n";
  } else {
    row << epoch << "," << train.loss << "," << train.accuracy << "," << test.loss << "," << test.accuracy << ","
        << train.seconds << "," << test.seconds << ",";
    if (measured) row << active << "," << used;
    else row << ",";
    row << "," << rigl_moved << "\n";
  }
  const size_t previous_size = text_.size();
  text_ += row.str();
  try {
    replace_file(epoch);
  } catch (const Error&) {
    text_.resize(previous_size);  // the file holds the previous epochs; so does text_
    throw;
  }
}

int MetricsWriter::resume(int epochs_done) {
  if (path_.empty()) return 0;
  std::ifstream file(target_, std::ios::binary);
  if (!file) return 0;  // checked by the constructor: a new file
  const std::string header = json_ ? "" : text_;
  const std::string cannot = "cannot continue the metrics file " + path_ + ": ";
  std::string line, kept;
  int rows = 0;
  bool first = true;
  while (std::getline(file, line)) {
    if (first && !json_) {
      WISP_CHECK(line + "\n" == header, cannot, "expected its first line to be the CSV header ",
                 header.substr(0, header.size() - 1), " but it is ", line);
      first = false;
      continue;
    }
    first = false;
    if (line.empty()) continue;
    // The epoch opens every row: "3,..." or {"epoch": 3, ...}.
    const std::string opening = json_ ? "{\"epoch\": " : "";
    size_t end = opening.size();
    while (end < line.size() && line[end] >= '0' && line[end] <= '9') ++end;
    WISP_CHECK(line.compare(0, opening.size(), opening) == 0 && end > opening.size() && end - opening.size() < 10,
               cannot, "expected rows starting with the epoch (", json_ ? "JSON Lines" : "CSV", ") but found: ", line);
    const int epoch = std::stoi(line.substr(opening.size(), end - opening.size()));
    if (epoch < 1 || epoch > epochs_done) continue;  // after the checkpoint: written again
    kept += line + "\n";
    ++rows;
  }
  text_ = header + kept;
  return rows;
}

void MetricsWriter::replace_file(int epoch) const {
  const auto failed = [&](const std::string& step) {
    return detail::concat("cannot write the metrics file ", path_, " (epoch ", epoch, "'s row): ", step, ": ",
                          std::strerror(errno), "; it keeps the earlier epochs");
  };
  // A fresh name in the target's folder (rename is atomic only within one file system). O_EXCL
  // makes a name already taken fail, and the next one is tried.
  std::string temporary;
  int descriptor = -1;
  uint64_t state = static_cast<uint64_t>(::getpid()) * 0x9E3779B97F4A7C15ull ^
                   static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  for (int attempt = 0; attempt < 100 && descriptor < 0; ++attempt) {
    static const char kLetters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    temporary = target_ + ".tmp-";
    for (int i = 0; i < 6; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      temporary += kLetters[(state >> 33) % (sizeof(kLetters) - 1)];
    }
    descriptor = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (descriptor < 0 && errno != EEXIST) throw Error(failed("creating " + temporary));
  }
  if (descriptor < 0) throw Error(failed("creating " + temporary));
  const auto give_up = [&](const std::string& step) {
    const std::string message = failed(step);
    if (descriptor >= 0) ::close(descriptor);
    ::unlink(temporary.c_str());
    return Error(message);
  };
  for (size_t done = 0; done < text_.size();) {
    const ssize_t written = ::write(descriptor, text_.data() + done, text_.size() - done);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) throw give_up("writing " + temporary);
    done += static_cast<size_t>(written);
  }
  if (keep_mode_ && ::fchmod(descriptor, static_cast<mode_t>(mode_)) != 0) throw give_up("setting its permissions");
  // On disk before the rename, so that a power cut cannot leave an empty file under the old name.
  if (::fsync(descriptor) != 0) throw give_up("flushing " + temporary);
  const int closed = ::close(descriptor);
  descriptor = -1;
  if (closed != 0) throw give_up("closing " + temporary);
  if (::rename(temporary.c_str(), target_.c_str()) != 0) throw give_up("renaming " + temporary);
}

namespace {

const std::string kCheckpointPrefix = "checkpoint-epoch-";
const std::string kCheckpointSuffix = ".safetensors";

}  // namespace

CheckpointFolder::CheckpointFolder(const std::string& folder) : folder_(folder) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(folder, error);
  WISP_CHECK(!error, "cannot use the checkpoint folder ", folder, ": ", error.message());
  WISP_CHECK(fs::is_directory(folder, error), "cannot use the checkpoint folder ", folder, ": it is not a directory");
  WISP_CHECK(::access(folder.c_str(), W_OK | X_OK) == 0, "cannot use the checkpoint folder ", folder,
             ": it is not writable (", std::strerror(errno), ")");
}

std::string CheckpointFolder::path(int64_t epoch) const {
  std::ostringstream name;
  name << kCheckpointPrefix << std::setw(4) << std::setfill('0') << epoch << kCheckpointSuffix;
  return (std::filesystem::path(folder_) / name.str()).string();
}

std::vector<std::pair<int64_t, std::string>> CheckpointFolder::checkpoints() const {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(folder_, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= kCheckpointPrefix.size() + kCheckpointSuffix.size() ||
        name.compare(0, kCheckpointPrefix.size(), kCheckpointPrefix) != 0 ||
        name.compare(name.size() - kCheckpointSuffix.size(), kCheckpointSuffix.size(), kCheckpointSuffix) != 0)
      continue;
    const std::string digits =
        name.substr(kCheckpointPrefix.size(), name.size() - kCheckpointPrefix.size() - kCheckpointSuffix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!entry.is_regular_file(error)) continue;
    found.emplace_back(std::stoll(digits), entry.path().string());
  }
  WISP_CHECK(!error, "cannot list the checkpoint folder ", folder_, ": ", error.message());
  std::sort(found.begin(), found.end());
  return found;
}

std::optional<std::pair<int64_t, std::string>> CheckpointFolder::latest() const {
  const auto found = checkpoints();
  if (found.empty()) return std::nullopt;
  return found.back();
}

std::vector<std::string> CheckpointFolder::keep_last(int64_t keep) const {
  std::vector<std::string> removed;
  const auto found = checkpoints();
  for (size_t i = 0; i + static_cast<size_t>(keep) < found.size(); ++i) {
    std::error_code error;
    std::filesystem::remove(found[i].second, error);
    WISP_CHECK(!error, "cannot delete the old checkpoint ", found[i].second, ": ", error.message());
    removed.push_back(found[i].second);
  }
  return removed;
}

}  // namespace wisp::apps
