#include "training.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>

namespace wisp::apps {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

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
              << std::string(static_cast<size_t>(kWidth - filled), ' ') << "] " << done << "/" << total_
              << " loss " << std::fixed << std::setprecision(4) << loss << " " << std::setprecision(1) << seconds
              << " s" << std::defaultfloat << std::flush;
  }
  ~ProgressBar() {
    if (enabled_) std::cout << "\r\033[K" << std::flush;  // clear the line for the summary
  }

 private:
  std::string label_;
  int64_t total_;
  bool enabled_;
};

}  // namespace

EpochResult train_epoch(nn::Module& model, optim::Optimizer& optimizer, data::DataLoader& loader, Device device,
                        const std::string& label) {
  model.train();
  const auto start = Clock::now();
  EpochResult result;
  double loss_sum = 0;
  int64_t correct = 0, batch_index = 0;
  ProgressBar bar(label, static_cast<int64_t>(loader.size()));
  for (const data::Batch& batch : loader) {
    const Tensor images = batch.data.to(device), labels = batch.target.to(device);
    const Tensor logits = model(images);
    const Tensor loss = cross_entropy(logits, labels);
    const float loss_value = loss.item<float>();
    WISP_CHECK(std::isfinite(loss_value), "training diverged: the loss of batch ", batch_index, " is ", loss_value,
               "; lower the learning rate (--lr)");
    loss.backward();
    optimizer.step();
    optimizer.zero_grad();
    correct += (logits.argmax(1) == labels).sum().item<int64_t>();
    loss_sum += static_cast<double>(loss_value) * labels.size(0);
    result.samples += labels.size(0);
    ++batch_index;
    bar.update(batch_index, loss_sum / static_cast<double>(result.samples), seconds_since(start));
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
  ProgressBar bar(label, static_cast<int64_t>(loader.size()));
  for (const data::Batch& batch : loader) {
    const Tensor images = batch.data.to(device), labels = batch.target.to(device);
    const Tensor logits = model(images);
    loss_sum += static_cast<double>(cross_entropy(logits, labels, Reduction::Sum).item<float>());
    correct += (logits.argmax(1) == labels).sum().item<int64_t>();
    result.samples += labels.size(0);
    ++batch_index;
    bar.update(batch_index, loss_sum / static_cast<double>(result.samples), seconds_since(start));
  }
  result.loss = result.samples ? loss_sum / static_cast<double>(result.samples) : 0;
  result.accuracy = result.samples ? 100.0 * static_cast<double>(correct) / static_cast<double>(result.samples) : 0;
  result.seconds = seconds_since(start);
  return result;
}

MetricsWriter::MetricsWriter(const std::string& path) {
  if (path.empty()) return;
  const auto ends_with = [&](const std::string& suffix) {
    return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  json_ = ends_with(".jsonl") || ends_with(".json");
  file_.open(path);
  WISP_CHECK(file_.is_open(), "cannot write the metrics file ", path);
  if (!json_) file_ << "epoch,train_loss,train_accuracy,test_loss,test_accuracy,train_seconds,test_seconds\n";
}

void MetricsWriter::write(int epoch, const EpochResult& train, const EpochResult& test) {
  if (!file_.is_open()) return;
  file_ << std::setprecision(8);
  if (json_) {
    file_ << "{\"epoch\": " << epoch << ", \"train_loss\": " << train.loss << ", \"train_accuracy\": "
          << train.accuracy << ", \"test_loss\": " << test.loss << ", \"test_accuracy\": " << test.accuracy
          << ", \"train_seconds\": " << train.seconds << ", \"test_seconds\": " << test.seconds << "}\n";
  } else {
    file_ << epoch << "," << train.loss << "," << train.accuracy << "," << test.loss << "," << test.accuracy << ","
          << train.seconds << "," << test.seconds << "\n";
  }
  file_.flush();
}

}  // namespace wisp::apps
