// DataLoader: iterates over a Dataset in batches, optionally shuffled, optionally prefetching the
// next batch on a background thread.
//
//   data::DataLoader loader(dataset, data::DataLoaderOptions().batch_size(64).shuffle(true));
//   for (int epoch = 0; epoch < epochs; ++epoch)
//     for (const data::Batch& batch : loader) { ... batch.data, batch.target ... }
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "wisp/core/arguments.h"
#include "wisp/core/random.h"
#include "wisp/data/dataset.h"

namespace wisp::data {

// Defaults as PyTorch's DataLoader: batch_size 1, no shuffling, the last partial batch kept.
class DataLoaderOptions {
  WISP_ARG(int64_t, batch_size, 1);
  // Reorders the samples at the start of every epoch (a new order each epoch).
  WISP_ARG(bool, shuffle, false);
  // Skips the last batch of an epoch when it would be smaller than batch_size.
  WISP_ARG(bool, drop_last, false);
  // Shuffles with the loader's own generator seeded with `value`: the same seed gives the same
  // sequence of epochs. Without a seed, shuffles draw from default_generator() (manual_seed).
  WISP_ARG(std::optional<uint64_t>, seed, std::nullopt);
  // Builds the next batch on a background thread while the current one is in use.
  WISP_ARG(bool, prefetch, true);
  // Data-parallel training over num_shards processes: each runs the same loader, with its own
  // shard in [0, num_shards), and gets its part of every batch (see DataLoader). batch_size is the
  // global batch, summed over the shards.
  WISP_ARG(int64_t, num_shards, 1);
  WISP_ARG(int64_t, shard, 0);
};

// Batches of `dataset` in epochs. Every begin() starts a new epoch: with shuffle, a new
// Fisher-Yates permutation (drawn on the calling thread, so results do not depend on timing);
// without, samples 0, 1, 2, ... Each epoch visits every sample once, except those of a dropped
// last batch. A batch is whatever dataset.get_batch returns for its indices (for MnistDataset:
// data Float32 [B, 1, 28, 28], target Int64 [B]); B = batch_size except possibly for the last one
// (and except with shards, below).
//
// Sharding (num_shards P > 1, for data-parallel training): every process forms the same global
// batches as an unsharded loader (same permutation, same order, same drop_last), and shard s keeps
// the samples at positions s, s + P, s + 2P, ... of each, in that order. The P shards of a batch are
// therefore disjoint and together make the global batch; every shard has the same size() as the
// unsharded loader, so all processes run the same number of steps. A shard's part may be one sample
// smaller than another's, and is empty (a Batch with first dimension 0) when the global batch has
// fewer than P samples, so a training step should weight its gradients by the global sample count
// (for example an all_reduce of the parts' sizes), not by its own. A sharded loader that shuffles
// needs the same permutation in every process: give it a seed, or shuffle from default_generator()
// where it is the same in every process (distributed::DataParallel makes it so: mnist_train shuffles
// that way, so that a checkpoint's generator resumes the loader's order with any number of processes).
//
// The dataset must outlive the loader. The loader is neither copyable nor movable.
//
// Prefetching: while the consumer works on batch k, a worker thread (one per loader, started on
// the first begin()) builds batch k + 1. The batches and their order are identical with and
// without prefetching, provided the dataset's contents do not change during an epoch: the worker
// reads batch k + 1 while the consumer holds batch k, so a change to the dataset then (for example
// an in-place update of a TensorDataset's tensors) is a data race. Change a dataset between epochs,
// or turn prefetching off. An exception thrown by get_batch on the worker is rethrown, unchanged, to
// the consumer when it advances to that batch. Breaking out of a loop early is fine: the next
// begin() or the destructor waits for the batch in flight (at most one) and discards it.
//
// Thread-safety: one consumer thread per loader; begin(), end(), size() and the iterators must not
// be used from several threads at once. Different loaders are independent.
class DataLoader {
 public:
  // A single-pass input iterator over the current epoch; dereferencing gives the current batch,
  // valid until the iterator is advanced. Starting a new epoch invalidates the old iterators.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = const Batch*;
    using reference = const Batch&;

    reference operator*() const;
    pointer operator->() const { return &**this; }
    Iterator& operator++();
    friend bool operator==(const Iterator& a, const Iterator& b) {
      return a.loader_ == b.loader_ && a.position_ == b.position_;
    }
    friend bool operator!=(const Iterator& a, const Iterator& b) { return !(a == b); }

   private:
    friend class DataLoader;
    Iterator(DataLoader* loader, uint64_t epoch, int64_t position)
        : loader_(loader), epoch_(epoch), position_(position) {}
    DataLoader* loader_;
    uint64_t epoch_;
    int64_t position_;  // batch index within the epoch; size() means the end
  };

  // Throws wisp::Error when batch_size < 1, the dataset is empty, num_shards < 1, shard is outside
  // [0, num_shards).
  DataLoader(const Dataset& dataset, DataLoaderOptions options = {});
  // The loader keeps a reference to the dataset, so a temporary one would be destroyed under it.
  DataLoader(const Dataset&& dataset, DataLoaderOptions options = {}) = delete;
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts a new epoch and loads its first batch (rethrowing get_batch's exceptions).
  Iterator begin();
  Iterator end();

  // Batches per epoch: ceil(N / batch_size), or floor(N / batch_size) with drop_last; the same for
  // every shard.
  int64_t size() const { return num_batches_; }
  const Dataset& dataset() const { return dataset_; }
  const DataLoaderOptions& options() const { return options_; }

 private:
  std::vector<int64_t> batch_indices(int64_t batch) const;  // this shard's part of the batch
  Batch load(int64_t batch);  // batch `batch` of the current epoch, and queues the next one
  void advance();
  void check_current(const Iterator& iterator) const;
  void submit(int64_t batch);
  Batch take();
  void discard_in_flight();
  void worker_loop();

  const Dataset& dataset_;
  DataLoaderOptions options_;
  int64_t num_samples_ = 0;
  int64_t num_batches_ = 0;
  std::optional<Generator> generator_;  // only with options.seed()

  // Consumer-side epoch state.
  uint64_t epoch_ = 0;
  int64_t position_ = 0;
  std::vector<int64_t> order_;
  Batch current_;
  int64_t in_flight_ = -1;  // the batch requested from the worker and not yet taken, or -1

  // Shared with the worker, guarded by mutex_.
  std::mutex mutex_;
  std::condition_variable wake_worker_, wake_consumer_;
  bool stop_ = false;
  bool has_request_ = false;
  std::vector<int64_t> request_;
  bool has_result_ = false;
  Batch result_;
  std::exception_ptr error_;
  std::thread worker_;
};

}  // namespace wisp::data
