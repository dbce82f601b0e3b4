// The notebook's train_model loop, shared by the apps: one training epoch, one evaluation pass,
// a progress bar on terminals, and metrics files.
#pragma once

#include <cstdio>
#include <fstream>
#include <string>

#include <wisp/wisp.h>

namespace wisp::apps {

struct EpochResult {
  double loss = 0;      // mean cross-entropy per sample
  double accuracy = 0;  // percent
  int64_t samples = 0;
  double seconds = 0;
};

// One pass over `loader` in training mode: forward, cross-entropy, backward, optimizer step.
// Draws a progress bar on stdout when it is a terminal. Throws wisp::Error when the loss becomes
// NaN or infinite (naming the batch), since training cannot recover from it.
EpochResult train_epoch(nn::Module& model, optim::Optimizer& optimizer, data::DataLoader& loader, Device device,
                        const std::string& label);
// One pass in evaluation mode without recording gradients.
EpochResult evaluate(nn::Module& model, data::DataLoader& loader, Device device, const std::string& label);

// Per-epoch metrics, written as CSV (default) or JSON Lines (a path ending in .jsonl or .json).
class MetricsWriter {
 public:
  explicit MetricsWriter(const std::string& path);  // an empty path writes nothing
  void write(int epoch, const EpochResult& train, const EpochResult& test);

 private:
  std::ofstream file_;
  bool json_ = false;
};

}  // namespace wisp::apps
