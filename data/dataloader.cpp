#include "wisp/data/dataloader.h"

#include <algorithm>
#include <numeric>
#include <utility>

namespace wisp::data {

DataLoader::DataLoader(const Dataset& dataset, DataLoaderOptions options) : dataset_(dataset), options_(options) {
  WISP_CHECK(options_.batch_size() >= 1, "DataLoader: expected batch_size >= 1 but got ", options_.batch_size());
  num_samples_ = dataset_.size();
  WISP_CHECK(num_samples_ > 0, "DataLoader: expected a non-empty dataset but it has ", num_samples_, " samples");
  const int64_t batch_size = options_.batch_size();
  // Written so that a batch_size near INT64_MAX cannot overflow.
  num_batches_ = num_samples_ / batch_size + (!options_.drop_last() && num_samples_ % batch_size != 0 ? 1 : 0);
  WISP_CHECK(options_.num_shards() >= 1, "DataLoader: expected num_shards >= 1 but got ", options_.num_shards());
  WISP_CHECK(options_.shard() >= 0 && options_.shard() < options_.num_shards(), "DataLoader: expected shard in [0, ",
             options_.num_shards(), ") but got ", options_.shard());
  if (options_.seed()) generator_.emplace(*options_.seed());
}

DataLoader::~DataLoader() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_worker_.notify_one();
  worker_.join();  // waits for a get_batch in progress, if any; its result is dropped with us
}

DataLoader::Iterator DataLoader::begin() {
  discard_in_flight();  // an earlier epoch left early
  ++epoch_;
  position_ = 0;
  current_ = Batch{};
  order_.resize(static_cast<size_t>(num_samples_));
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (options_.shuffle()) {
    // Fisher-Yates with one block of counters from the counter-based generator: the permutation
    // depends only on the seed and on how many numbers were drawn before.
    Generator& generator = generator_ ? *generator_ : default_generator();
    const Generator::Block block = generator.reserve(static_cast<uint64_t>(num_samples_));
    for (int64_t i = num_samples_ - 1; i > 0; --i) {
      const auto j = static_cast<int64_t>(bounded_from_bits(
          random_bits(block.key, block.first + static_cast<uint64_t>(i)), static_cast<uint64_t>(i + 1)));
      std::swap(order_[static_cast<size_t>(i)], order_[static_cast<size_t>(j)]);
    }
  }
  if (num_batches_ > 0) current_ = load(0);
  return Iterator(this, epoch_, 0);
}

DataLoader::Iterator DataLoader::end() { return Iterator(this, epoch_, num_batches_); }

std::vector<int64_t> DataLoader::batch_indices(int64_t batch) const {
  // The global batch is order_[first, first + global_size); this shard takes every num_shards-th
  // sample of it, starting at position shard.
  const int64_t first = batch * options_.batch_size();
  const int64_t global_size = std::min(options_.batch_size(), num_samples_ - first);  // cannot overflow
  const int64_t num_shards = options_.num_shards(), shard = options_.shard();
  std::vector<int64_t> indices;
  if (shard >= global_size) return indices;  // fewer samples than shards: this part is empty
  // The positions shard + i * num_shards below global_size.
  const int64_t count = (global_size - 1 - shard) / num_shards + 1;
  indices.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) indices.push_back(order_[static_cast<size_t>(first + shard + i * num_shards)]);
  return indices;
}

Batch DataLoader::load(int64_t batch) {
  if (!options_.prefetch()) return dataset_.get_batch(batch_indices(batch));
  if (in_flight_ != batch) {
    discard_in_flight();
    submit(batch);
  }
  Batch result = take();  // rethrows the worker's exception; nothing is in flight afterwards
  if (batch + 1 < num_batches_) submit(batch + 1);
  return result;
}

void DataLoader::advance() {
  WISP_CHECK(position_ < num_batches_, "DataLoader: cannot advance past the end of the epoch (", num_batches_,
             " batches)");
  if (position_ + 1 < num_batches_) current_ = load(position_ + 1);  // on a throw, the position stays
  else current_ = Batch{};
  ++position_;
}

void DataLoader::check_current(const Iterator& iterator) const {
  WISP_CHECK(iterator.epoch_ == epoch_,
             "DataLoader: this iterator belongs to an earlier epoch (begin() was called again)");
  WISP_CHECK(iterator.position_ == position_ && position_ < num_batches_,
             "DataLoader: expected an iterator to the current batch ", position_, " of ", num_batches_,
             " but got one at ", iterator.position_);
}

const Batch& DataLoader::Iterator::operator*() const {
  loader_->check_current(*this);
  return loader_->current_;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  loader_->check_current(*this);
  loader_->advance();
  position_ = loader_->position_;
  return *this;
}

void DataLoader::submit(int64_t batch) {
  if (!worker_.joinable()) worker_ = std::thread(&DataLoader::worker_loop, this);
  std::vector<int64_t> indices = batch_indices(batch);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    request_ = std::move(indices);
    has_request_ = true;
  }
  in_flight_ = batch;
  wake_worker_.notify_one();
}

Batch DataLoader::take() {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_consumer_.wait(lock, [this] { return has_result_; });
  has_result_ = false;
  in_flight_ = -1;
  Batch result = std::move(result_);
  result_ = Batch{};
  std::exception_ptr error = std::exchange(error_, nullptr);
  lock.unlock();
  if (error) std::rethrow_exception(error);
  return result;
}

void DataLoader::discard_in_flight() {
  if (in_flight_ < 0) return;
  try {
    take();
  } catch (...) {
    // The batch was not wanted; neither is its failure.
  }
}

void DataLoader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_worker_.wait(lock, [this] { return stop_ || has_request_; });
    if (stop_) return;
    std::vector<int64_t> indices = std::move(request_);
    has_request_ = false;
    lock.unlock();
    Batch batch;
    std::exception_ptr error;
    try {
      batch = dataset_.get_batch(indices);
    } catch (...) {
      error = std::current_exception();  // handed to the consumer, rethrown by take()
    }
    lock.lock();
    result_ = std::move(batch);
    error_ = error;
    has_result_ = true;
    wake_consumer_.notify_one();
  }
}

}  // namespace wisp::data
