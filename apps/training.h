// The notebook's train_model loop, shared by the apps: one training epoch, one evaluation pass,
// a progress bar on terminals, and metrics files.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <wisp/wisp.h>

namespace wisp::apps {

// How many hidden units a nonlinearity lets through (measured by evaluate on nn::Sequential models,
// at the output of each ReLU and ActivationSparsity layer).
struct Activity {
  std::string layer;           // "3 (ActivationSparsity)": position in the Sequential and type
  double active_fraction = 0;  // mean fraction of the units that are nonzero, per sample
  double used_fraction = 0;    // fraction of the units that are nonzero in at least one sample
};

struct EpochResult {
  double loss = 0;      // mean cross-entropy per sample
  double accuracy = 0;  // percent
  int64_t samples = 0;
  double seconds = 0;              // wall clock, after the device finished the pass's work
  std::vector<Activity> activity;  // evaluate only; empty unless the model is an nn::Sequential
  // train_epoch with TrainOptions::clip_grad_norm only: the batches whose gradient norm was above the
  // limit (and so scaled down), and those whose norm was infinite or NaN (clip_grad_norm_ returns it
  // as it is and scales the gradients by 0 or NaN, as PyTorch).
  int64_t clipped_batches = 0;
  int64_t nonfinite_norm_batches = 0;
};

// What train_epoch does besides forward, backward and step.
struct TrainOptions {
  // Before each step, scale the gradients so that their total 2-norm is at most this
  // (nn::utils::clip_grad_norm_); unset: no clipping.
  std::optional<double> clip_grad_norm;
  // Data-parallel training (distributed/data_parallel.h): the loader gives this rank's shard of each
  // global batch; gradients are combined across the ranks before clipping and the step, and the
  // epoch's loss and accuracy are those of every rank's samples. Null: one process.
  distributed::DataParallel* data_parallel = nullptr;
};

// The optimizers the apps offer, by their options.
using OptimizerOptions = std::variant<optim::SGDOptions, optim::AdamOptions, optim::AdamWOptions>;
// Throws wisp::Error, naming the value, for options the optimizer refuses (the options' check()).
void check_optimizer_options(const OptimizerOptions& options);
// `options` with `schedule` as their learning-rate schedule.
OptimizerOptions with_schedule(OptimizerOptions options, const optim::Schedule& schedule);
// The optimizer `options` describe, over `parameters`.
std::unique_ptr<optim::Optimizer> make_optimizer(std::vector<Tensor> parameters, const OptimizerOptions& options);
// As the options print: "SGD(lr=0.01, momentum=0.9, ...)", "AdamW(lr=0.001, ...)".
std::string describe(const OptimizerOptions& options);

// The device named by `text`: "cpu", "cuda" (GPU 0) or "cuda:N". Throws wisp::Error naming the
// accepted forms otherwise. Whether the device exists is check_device_usable's question.
Device parse_device(const std::string& text);
// `device` as parsed from `text`, except that a plain "cuda" in a process an MPI launcher started
// becomes GPU (local rank mod GPUs), so that the processes of a machine share out its GPUs.
Device device_for_local_rank(const std::string& text, Device device);
// Throws wisp::Error saying why `device` cannot run this build's kernels: wisp built without CUDA,
// no usable GPU, or a GPU index beyond the GPUs present. Does nothing for the CPU.
void check_device_usable(const Device& device);

// RigL's work so far, summed over the dynamic SparseLinear layers of `model` and its children.
struct RiglTotals {
  int64_t layers = 0;   // dynamic layers
  int64_t updates = 0;  // updates, summed over the layers
  int64_t moved = 0;    // connections grown where there was none
};
RiglTotals rigl_totals(const nn::Module& model);

// One pass over `loader` in training mode: forward, cross-entropy, backward, (gradient clipping,)
// optimizer step, with each batch copied to `device` (where the model and the optimizer's state must
// already be). Draws a progress bar on stdout when it is a terminal. Throws wisp::Error when the loss
// becomes NaN or infinite (naming the batch), since training cannot recover from it.
EpochResult train_epoch(nn::Module& model, optim::Optimizer& optimizer, data::DataLoader& loader, Device device,
                        const std::string& label, const TrainOptions& options = {});
// One pass in evaluation mode without recording gradients, each batch copied to `device`. For an
// nn::Sequential it also measures the activity of the hidden units (EpochResult::activity). Throws
// wisp::Error when the loss is NaN or infinite (a model that diverged).
EpochResult evaluate(nn::Module& model, data::DataLoader& loader, Device device, const std::string& label);

// Per-epoch metrics, written as CSV (default) or JSON Lines (a path ending in .jsonl or .json):
// losses, accuracies, seconds, the first activation layer's activity on the test set (active_fraction,
// units_used; empty for models that are not a Sequential) and the connections RigL moved.
//
// The file is replaced atomically at the end of each epoch: the header and every row so far go to a
// new file `<path>.tmp-XXXXXX` in the same folder, which is flushed to disk and renamed over `path`.
// So `path` always holds either what it held before the run or every completed epoch: a run that
// fails before its first epoch ends leaves it untouched, and one that stops later (an error, Ctrl-C,
// a crash) leaves the epochs it completed. A process killed while writing may leave the `.tmp-` file.
class MetricsWriter {
 public:
  // An empty path writes nothing. Creates nothing yet: checks that `path` can be replaced (its folder
  // exists and is writable; `path` is absent or a writable regular file, or a symbolic link to one,
  // whose target is then the file replaced) and throws wisp::Error saying what is wrong otherwise.
  explicit MetricsWriter(const std::string& path);
  // Throws wisp::Error when the metrics file is `input` (the same device and inode: through symbolic
  // and hard links), which writing the metrics would destroy. `description` names the input in the
  // message ("the training labels file").
  void check_not_input(const std::string& input, const std::string& description) const;
  // rigl_moved: connections RigL moved during the epoch (0 without dynamic layers). Replaces the file
  // with the header and every row so far; throws wisp::Error, naming the file and the epoch, when it
  // could not be written (the file then keeps the previous epochs).
  void write(int epoch, const EpochResult& train, const EpochResult& test, int64_t rigl_moved = 0);
  // For a resumed run: takes the rows of epochs 1 to `epochs_done` from the existing file (rows of
  // later epochs, written after the checkpoint the run resumes from, are dropped) and returns how
  // many it took; the file itself changes only at the next write(). A missing file gives 0 rows.
  // Throws wisp::Error when the file is not a metrics file of this format (CSV or JSON Lines).
  int resume(int epochs_done);

 private:
  void replace_file(int epoch) const;

  std::string path_;    // as the user gave it, for messages
  std::string target_;  // the file replaced: path_ with symbolic links resolved
  std::string text_;    // the header and every row so far
  bool json_ = false;
  bool keep_mode_ = false;  // an existing file's permissions are kept
  unsigned mode_ = 0;
};

// The checkpoints of a run in one folder: `checkpoint-epoch-0001.safetensors`, ... (the epochs
// finished), each written crash-safely (serialization/checkpoint.h), so that a file under such a
// name is always complete.
class CheckpointFolder {
 public:
  // Creates `folder` (and its parents) when missing; throws wisp::Error when it cannot be created or
  // written to.
  explicit CheckpointFolder(const std::string& folder);
  const std::string& folder() const { return folder_; }
  // The file of the checkpoint after `epoch`.
  std::string path(int64_t epoch) const;
  // The checkpoint of the latest epoch in the folder (epoch and file), or nullopt when it has none.
  std::optional<std::pair<int64_t, std::string>> latest() const;
  // Deletes all but the `keep` latest checkpoints (the newest is written before the oldest goes, so
  // a crash never leaves none); returns the files deleted.
  std::vector<std::string> keep_last(int64_t keep) const;

 private:
  std::vector<std::pair<int64_t, std::string>> checkpoints() const;  // by epoch
  std::string folder_;
};

}  // namespace wisp::apps
