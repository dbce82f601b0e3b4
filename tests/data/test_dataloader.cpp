// DataLoader: batch counts, order, seeded shuffling, drop_last, prefetching (identical batches,
// early exits, destruction with a batch in flight) and exceptions from the worker thread.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "test_helpers.h"

using namespace wisp;

// The loader keeps a reference to its dataset: a temporary one does not compile.
static_assert(!std::is_constructible_v<data::DataLoader, data::TensorDataset&&>);
static_assert(std::is_constructible_v<data::DataLoader, const data::TensorDataset&>);

namespace {

// Sample i is the number i: data Float32 [B, 1] and target Int64 [B] both hold the indices.
// It can be made slow and made to fail at one sample, and it records the threads it ran on.
class CountingDataset : public data::Dataset {
 public:
  explicit CountingDataset(int64_t size) : size_(size) {}
  int64_t size() const override { return size_; }

  data::Batch get_batch(const std::vector<int64_t>& indices) const override {
    ++calls;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      threads_.insert(std::this_thread::get_id());
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    const auto batch_size = static_cast<int64_t>(indices.size());
    data::Batch batch{empty({batch_size, 1}), empty({batch_size}, DType::Int64)};
    for (int64_t i = 0; i < batch_size; ++i) {
      const int64_t sample = indices[static_cast<size_t>(i)];
      if (sample == fail_at) {
        if (fail_with_std_exception)
          throw std::out_of_range("CountingDataset: std exception at sample " + std::to_string(sample));
        WISP_FAIL("CountingDataset: sample ", sample, " is broken");
      }
      batch.data.data<float>()[i] = static_cast<float>(sample);
      batch.target.data<int64_t>()[i] = sample;
    }
    return batch;
  }

  std::set<std::thread::id> threads() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return threads_;
  }

  mutable std::atomic<int> calls{0};
  std::atomic<int64_t> fail_at{-1};
  std::atomic<bool> fail_with_std_exception{false};
  std::chrono::milliseconds delay{0};

 private:
  int64_t size_;
  mutable std::mutex mutex_;
  mutable std::set<std::thread::id> threads_;
};

using Epoch = std::vector<std::vector<int64_t>>;  // the sample indices of each batch

// One epoch, checking that every batch's data and target agree.
Epoch run_epoch(data::DataLoader& loader) {
  Epoch epoch;
  for (const data::Batch& batch : loader) {
    REQUIRE(batch.data.dtype() == DType::Float32);
    REQUIRE(batch.target.dtype() == DType::Int64);
    REQUIRE(batch.data.shape() == Shape{batch.target.size(0), 1});
    const std::vector<int64_t> targets = batch.target.to_vector<int64_t>();
    const std::vector<float> values = batch.data.to_vector<float>();
    for (size_t i = 0; i < targets.size(); ++i) REQUIRE(values[i] == static_cast<float>(targets[i]));
    epoch.push_back(targets);
  }
  return epoch;
}

std::vector<int64_t> flatten(const Epoch& epoch) {
  std::vector<int64_t> all;
  for (const auto& batch : epoch) all.insert(all.end(), batch.begin(), batch.end());
  return all;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> values(static_cast<size_t>(n));
  std::iota(values.begin(), values.end(), int64_t{0});
  return values;
}

}  // namespace

TEST_CASE("DataLoaderOptions defaults are PyTorch's", "[data][dataloader]") {
  const data::DataLoaderOptions options;
  CHECK(options.batch_size() == 1);
  CHECK_FALSE(options.shuffle());
  CHECK_FALSE(options.drop_last());
  CHECK_FALSE(options.seed().has_value());
  CHECK(options.prefetch());
  const auto chained = data::DataLoaderOptions().batch_size(64).shuffle(true).drop_last(true).seed(3).prefetch(false);
  CHECK(chained.batch_size() == 64);
  CHECK(chained.shuffle());
  CHECK(chained.drop_last());
  CHECK(chained.seed() == std::optional<uint64_t>(3));
  CHECK_FALSE(chained.prefetch());
}

TEST_CASE("DataLoader batch counts with and without drop_last", "[data][dataloader]") {
  CountingDataset dataset(10);
  struct Case {
    int64_t batch_size, batches, batches_drop_last;
  };
  for (const Case& c : {Case{1, 10, 10}, Case{3, 4, 3}, Case{5, 2, 2}, Case{10, 1, 1}, Case{11, 1, 0}}) {
    INFO("batch_size " << c.batch_size);
    for (const auto& [drop_last, shuffle] :
         std::vector<std::pair<bool, bool>>{{false, false}, {true, false}, {false, true}, {true, true}}) {
      INFO("drop_last " << drop_last << ", shuffle " << shuffle);
      data::DataLoader loader(dataset,
                              data::DataLoaderOptions().batch_size(c.batch_size).drop_last(drop_last).shuffle(shuffle));
      const int64_t expected = drop_last ? c.batches_drop_last : c.batches;
      CHECK(loader.size() == expected);
      const Epoch epoch = run_epoch(loader);
      CHECK(static_cast<int64_t>(epoch.size()) == expected);
      std::vector<int64_t> seen = flatten(epoch);
      CHECK(static_cast<int64_t>(seen.size()) == (drop_last ? 10 / c.batch_size * c.batch_size : 10));
      for (size_t b = 0; b < epoch.size(); ++b)
        if (b + 1 < epoch.size() || drop_last) CHECK(static_cast<int64_t>(epoch[b].size()) == c.batch_size);
      std::sort(seen.begin(), seen.end());
      CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());  // no sample twice
    }
  }
}

TEST_CASE("DataLoader rejects a bad batch size and an empty dataset", "[data][dataloader]") {
  CountingDataset dataset(10), nothing(0);
  WISP_REQUIRE_ERROR(data::DataLoader(dataset, data::DataLoaderOptions().batch_size(0)), "batch_size >= 1", "got 0");
  WISP_REQUIRE_ERROR(data::DataLoader(dataset, data::DataLoaderOptions().batch_size(-5)), "got -5");
  WISP_REQUIRE_ERROR(data::DataLoader(nothing, data::DataLoaderOptions()), "non-empty dataset", "0 samples");
  // A batch larger than the dataset is one partial batch (or none with drop_last).
  data::DataLoader huge(dataset, data::DataLoaderOptions().batch_size(std::numeric_limits<int64_t>::max()));
  CHECK(huge.size() == 1);
  CHECK(run_epoch(huge) == Epoch{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}});
  data::DataLoader none(dataset,
                        data::DataLoaderOptions().batch_size(std::numeric_limits<int64_t>::max()).drop_last(true));
  CHECK(none.size() == 0);
  CHECK(run_epoch(none).empty());
}

TEST_CASE("DataLoader without shuffling yields the samples in order", "[data][dataloader]") {
  const bool prefetch = GENERATE(false, true);
  INFO("prefetch " << prefetch);
  CountingDataset dataset(10);
  data::DataLoader loader(dataset, data::DataLoaderOptions().batch_size(4).prefetch(prefetch));
  const Epoch expected{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}};
  CHECK(run_epoch(loader) == expected);
  CHECK(run_epoch(loader) == expected);  // every epoch the same
  data::DataLoader dropping(dataset, data::DataLoaderOptions().batch_size(4).drop_last(true).prefetch(prefetch));
  CHECK(run_epoch(dropping) == Epoch{{0, 1, 2, 3}, {4, 5, 6, 7}});
}

TEST_CASE("DataLoader shuffles: a permutation per epoch, new each epoch, reproducible with a seed",
          "[data][dataloader]") {
  CountingDataset dataset(100);
  auto options = data::DataLoaderOptions().batch_size(7).shuffle(true).seed(42);
  data::DataLoader loader(dataset, options);
  std::vector<Epoch> epochs;
  epochs.reserve(3);
  for (int e = 0; e < 3; ++e) epochs.push_back(run_epoch(loader));
  for (const Epoch& epoch : epochs) {
    CHECK(epoch.size() == 15);
    std::vector<int64_t> samples = flatten(epoch);
    CHECK(samples != iota(100));  // shuffled
    std::sort(samples.begin(), samples.end());
    CHECK(samples == iota(100));  // every sample exactly once
  }
  CHECK(epochs[0] != epochs[1]);
  CHECK(epochs[1] != epochs[2]);

  // The same seed gives the same epochs, with or without prefetching; another seed others.
  data::DataLoader same(dataset, options);
  data::DataLoader same_without_prefetch(dataset, data::DataLoaderOptions(options).prefetch(false));
  data::DataLoader other(dataset, data::DataLoaderOptions(options).seed(43));
  for (int e = 0; e < 3; ++e) {
    CHECK(run_epoch(same) == epochs[static_cast<size_t>(e)]);
    CHECK(run_epoch(same_without_prefetch) == epochs[static_cast<size_t>(e)]);
  }
  CHECK(run_epoch(other) != epochs[0]);

  // drop_last with shuffling leaves out different samples each epoch, never repeats one.
  data::DataLoader dropping(dataset, data::DataLoaderOptions(options).drop_last(true));
  std::vector<int64_t> first = flatten(run_epoch(dropping)), second = flatten(run_epoch(dropping));
  CHECK(first.size() == 98);
  std::sort(first.begin(), first.end());
  std::sort(second.begin(), second.end());
  CHECK(std::adjacent_find(first.begin(), first.end()) == first.end());
  CHECK(first != second);
}

TEST_CASE("DataLoader shuffles without a seed follow manual_seed", "[data][dataloader]") {
  CountingDataset dataset(50);
  const auto options = data::DataLoaderOptions().batch_size(8).shuffle(true);
  manual_seed(7);
  data::DataLoader a(dataset, options);
  const Epoch first = run_epoch(a), second = run_epoch(a);
  CHECK(first != second);
  manual_seed(7);
  data::DataLoader b(dataset, options);
  CHECK(run_epoch(b) == first);
  CHECK(run_epoch(b) == second);
  manual_seed(8);
  data::DataLoader c(dataset, options);
  CHECK(run_epoch(c) != first);
  // A seeded loader leaves the default generator alone.
  manual_seed(7);
  data::DataLoader seeded(dataset, data::DataLoaderOptions(options).seed(1));
  run_epoch(seeded);
  data::DataLoader d(dataset, options);
  CHECK(run_epoch(d) == first);
}

TEST_CASE("DataLoader prefetches on a background thread", "[data][dataloader]") {
  CountingDataset dataset(20);
  data::DataLoader loader(dataset, data::DataLoaderOptions().batch_size(4));
  CHECK(run_epoch(loader).size() == 5);
  CHECK(dataset.calls == 5);
  const std::set<std::thread::id> threads = dataset.threads();
  CHECK(threads.size() == 1);
  CHECK(threads.count(std::this_thread::get_id()) == 0);

  CountingDataset synchronous(20);
  data::DataLoader plain(synchronous, data::DataLoaderOptions().batch_size(4).prefetch(false));
  run_epoch(plain);
  CHECK(synchronous.threads() == std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST_CASE("DataLoader: breaking out early gives the same batches with and without prefetching", "[data][dataloader]") {
  CountingDataset dataset(30);
  auto run = [&](bool prefetch) {
    data::DataLoader loader(dataset, data::DataLoaderOptions().batch_size(4).shuffle(true).seed(5).prefetch(prefetch));
    std::vector<Epoch> epochs;
    for (int64_t stop_after : {2, 8, 1, 3}) {  // 8 is the whole epoch
      Epoch epoch;
      for (const data::Batch& batch : loader) {
        epoch.push_back(batch.target.to_vector<int64_t>());
        if (static_cast<int64_t>(epoch.size()) == stop_after) break;
      }
      epochs.push_back(epoch);
    }
    epochs.push_back(run_epoch(loader));
    return epochs;
  };
  const std::vector<Epoch> with = run(true), without = run(false);
  CHECK(with == without);
  CHECK(with[0].size() == 2);
  CHECK(with[1].size() == 8);
  CHECK(with[4].size() == 8);
}

TEST_CASE("DataLoader can be destroyed with a batch in flight", "[data][dataloader]") {
  CountingDataset dataset(100);
  dataset.delay = std::chrono::milliseconds(20);
  const auto start = std::chrono::steady_clock::now();
  {
    data::DataLoader loader(dataset, data::DataLoaderOptions().batch_size(10));
    for (const data::Batch& batch : loader) {
      CHECK(batch.target.size(0) == 10);
      while (dataset.calls < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      break;  // batch 1 is being built on the worker right now (it takes 20 ms)
    }
  }  // the destructor waits for it and joins
  CHECK(dataset.calls == 2);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  {
    data::DataLoader idle(dataset, data::DataLoaderOptions());  // never iterated: no thread to join
  }
}

TEST_CASE("DataLoader rethrows get_batch's exceptions to the consumer", "[data][dataloader]") {
  const bool prefetch = GENERATE(false, true);
  INFO("prefetch " << prefetch);
  CountingDataset dataset(10);
  data::DataLoader loader(dataset, data::DataLoaderOptions().batch_size(2).prefetch(prefetch));

  dataset.fail_at = 5;  // in batch 2
  int64_t seen = 0;
  WISP_REQUIRE_ERROR(
      [&] {
        for (const data::Batch& batch : loader) {
          (void)batch;
          ++seen;
        }
      }(),
      "CountingDataset: sample 5 is broken");
  CHECK(seen == 2);

  // The loader is still usable: a new epoch starts cleanly once the data is fixed.
  dataset.fail_at = -1;
  CHECK(run_epoch(loader).size() == 5);

  // A failure in the first batch comes out of begin(); other exception types keep their type.
  dataset.fail_at = 0;
  WISP_REQUIRE_ERROR(loader.begin(), "sample 0 is broken");
  dataset.fail_with_std_exception = true;
  dataset.fail_at = 9;
  CHECK_THROWS_AS(run_epoch(loader), std::out_of_range);

  // An error in a batch that is prefetched but never reached does not surface.
  dataset.fail_with_std_exception = false;
  dataset.fail_at = 3;
  for (const data::Batch& batch : loader) {
    CHECK(batch.target.to_vector<int64_t>() == std::vector<int64_t>{0, 1});
    break;
  }
  dataset.fail_at = -1;
  CHECK(run_epoch(loader).size() == 5);
}

TEST_CASE("DataLoader iterators: stale and past-the-end uses are errors", "[data][dataloader]") {
  CountingDataset dataset(6);
  data::DataLoader loader(dataset, data::DataLoaderOptions().batch_size(3));
  data::DataLoader::Iterator old = loader.begin();
  CHECK(old->target.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2});
  data::DataLoader::Iterator current = loader.begin();
  WISP_REQUIRE_ERROR(*old, "earlier epoch");
  ++current;
  CHECK((*current).target.to_vector<int64_t>() == std::vector<int64_t>{3, 4, 5});
  ++current;
  CHECK(current == loader.end());
  WISP_REQUIRE_ERROR(*current, "expected an iterator to the current batch");
  WISP_REQUIRE_ERROR(++current, "expected an iterator to the current batch");
}
