// DataLoader sharding for data-parallel training: the shards of every batch interleave the global
// batch exactly, are disjoint and cover it; every shard has the same number of batches; a part may
// be empty; bad options and an unseeded sharded shuffle are errors. Also: datasets give an empty
// Batch for an empty index list.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "test_helpers.h"

using namespace wisp;
namespace fs = std::filesystem;

namespace {

// Sample i: data Float32 [2, 3] holding 6 * i, ..., 6 * i + 5, target i.
data::TensorDataset numbered_dataset(int64_t size) {
  std::vector<float> values(static_cast<size_t>(size * 6));
  for (size_t v = 0; v < values.size(); ++v) values[v] = static_cast<float>(v);
  std::vector<int64_t> targets(static_cast<size_t>(size));
  for (size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<int64_t>(i);
  return data::TensorDataset(from_vector(values, {size, 2, 3}), from_vector(targets, {size}));
}

using Epoch = std::vector<std::vector<int64_t>>;  // the sample indices of each batch

// One epoch of a loader over numbered_dataset, checking every batch's dtypes, shapes and that
// data and target belong to the same samples (empty batches included).
Epoch run_epoch(data::DataLoader& loader) {
  Epoch epoch;
  for (const data::Batch& batch : loader) {
    REQUIRE(batch.data.dtype() == DType::Float32);
    REQUIRE(batch.target.dtype() == DType::Int64);
    REQUIRE(batch.target.dim() == 1);
    REQUIRE(batch.data.shape() == Shape{batch.target.size(0), 2, 3});
    const std::vector<int64_t> targets = batch.target.to_vector<int64_t>();
    const std::vector<float> values = batch.data.to_vector<float>();
    for (size_t i = 0; i < targets.size(); ++i)
      for (size_t k = 0; k < 6; ++k) REQUIRE(values[i * 6 + k] == static_cast<float>(targets[i] * 6 + k));
    epoch.push_back(targets);
  }
  return epoch;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("wisp_test_dataloader_shards_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace

TEST_CASE("DataLoaderOptions shard defaults: one shard, shard 0", "[data][dataloader][shards]") {
  const data::DataLoaderOptions options;
  CHECK(options.num_shards() == 1);
  CHECK(options.shard() == 0);
  const auto chained = data::DataLoaderOptions().num_shards(4).shard(3);
  CHECK(chained.num_shards() == 4);
  CHECK(chained.shard() == 3);
}

TEST_CASE("DataLoader shards interleave every global batch exactly, with equal batch counts",
          "[data][dataloader][shards]") {
  // Sizes not divisible by the batch size or the shard count, batches smaller than the shard count.
  for (const int64_t size : {1, 7, 10, 23}) {
    const data::TensorDataset dataset = numbered_dataset(size);
    for (const int64_t batch_size : {1, 3, 4, 5}) {
      for (const bool drop_last : {false, true}) {
        for (const bool shuffle : {false, true}) {
          for (const int64_t num_shards : {1, 2, 3, 4}) {
            INFO("dataset size " << size << ", batch_size " << batch_size << ", drop_last " << drop_last << ", shuffle "
                                 << shuffle << ", num_shards " << num_shards);
            const auto options =
                data::DataLoaderOptions().batch_size(batch_size).drop_last(drop_last).shuffle(shuffle).seed(11);
            data::DataLoader global(dataset, options);
            std::vector<Epoch> global_epochs;
            for (int e = 0; e < 2; ++e) global_epochs.push_back(run_epoch(global));
            for (int64_t shard = 0; shard < num_shards; ++shard) {
              INFO("shard " << shard);
              for (const bool prefetch : {true, false}) {
                INFO("prefetch " << prefetch);
                data::DataLoader loader(
                    dataset, data::DataLoaderOptions(options).num_shards(num_shards).shard(shard).prefetch(prefetch));
                CHECK(loader.size() == global.size());
                for (const Epoch& global_epoch : global_epochs) {  // a new permutation each epoch, as unsharded
                  const Epoch epoch = run_epoch(loader);
                  REQUIRE(epoch.size() == global_epoch.size());
                  for (size_t k = 0; k < epoch.size(); ++k) {
                    std::vector<int64_t> expected;
                    for (size_t position = static_cast<size_t>(shard); position < global_epoch[k].size();
                         position += static_cast<size_t>(num_shards))
                      expected.push_back(global_epoch[k][position]);
                    CHECK(epoch[k] == expected);
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

TEST_CASE("DataLoader shards of a batch are disjoint and together make the global batch",
          "[data][dataloader][shards]") {
  const data::TensorDataset dataset = numbered_dataset(23);
  for (const bool drop_last : {false, true}) {
    for (const int64_t num_shards : {1, 2, 3, 4}) {
      INFO("drop_last " << drop_last << ", num_shards " << num_shards);
      const auto options = data::DataLoaderOptions().batch_size(5).shuffle(true).seed(3).drop_last(drop_last);
      data::DataLoader global(dataset, options);
      const Epoch global_epoch = run_epoch(global);
      std::vector<Epoch> shard_epochs;
      for (int64_t shard = 0; shard < num_shards; ++shard) {
        data::DataLoader loader(dataset, data::DataLoaderOptions(options).num_shards(num_shards).shard(shard));
        CHECK(loader.size() == global.size());
        shard_epochs.push_back(run_epoch(loader));
      }
      for (size_t k = 0; k < global_epoch.size(); ++k) {
        std::vector<int64_t> together;
        size_t smallest = global_epoch[k].size(), largest = 0;
        for (const Epoch& epoch : shard_epochs) {
          together.insert(together.end(), epoch[k].begin(), epoch[k].end());
          smallest = std::min(smallest, epoch[k].size());
          largest = std::max(largest, epoch[k].size());
        }
        CHECK(largest - smallest <= 1);  // parts differ in size by at most one sample
        std::sort(together.begin(), together.end());
        CHECK(std::adjacent_find(together.begin(), together.end()) == together.end());  // disjoint
        std::vector<int64_t> expected = global_epoch[k];
        std::sort(expected.begin(), expected.end());
        CHECK(together == expected);  // and complete
      }
    }
  }
}

TEST_CASE("DataLoader shards: positions shard, shard + P, ... of each batch, in order", "[data][dataloader][shards]") {
  // 10 samples in batches of 4 over 3 shards: {0 1 2 3} {4 5 6 7} {8 9}.
  const data::TensorDataset dataset = numbered_dataset(10);
  const auto options = data::DataLoaderOptions().batch_size(4).num_shards(3);
  data::DataLoader shard0(dataset, data::DataLoaderOptions(options).shard(0));
  data::DataLoader shard1(dataset, data::DataLoaderOptions(options).shard(1));
  data::DataLoader shard2(dataset, data::DataLoaderOptions(options).shard(2));
  CHECK(run_epoch(shard0) == Epoch{{0, 3}, {4, 7}, {8}});
  CHECK(run_epoch(shard1) == Epoch{{1}, {5}, {9}});
  CHECK(run_epoch(shard2) == Epoch{{2}, {6}, {}});  // the last batch has only two samples
}

TEST_CASE("DataLoader shard with no sample of a batch still yields an empty Batch", "[data][dataloader][shards]") {
  const bool prefetch = GENERATE(true, false);
  INFO("prefetch " << prefetch);
  // 2 samples over 4 shards: shards 2 and 3 get nothing, but run as many steps as the others.
  const data::TensorDataset dataset = numbered_dataset(2);
  for (int64_t shard = 0; shard < 4; ++shard) {
    INFO("shard " << shard);
    data::DataLoader loader(dataset,
                            data::DataLoaderOptions().batch_size(8).num_shards(4).shard(shard).prefetch(prefetch));
    CHECK(loader.size() == 1);
    int64_t batches = 0;
    for (const data::Batch& batch : loader) {
      ++batches;
      CHECK(batch.data.shape() == Shape{shard < 2 ? 1 : 0, 2, 3});
      CHECK(batch.target.shape() == Shape{shard < 2 ? 1 : 0});
      CHECK(batch.data.dtype() == DType::Float32);
      CHECK(batch.target.dtype() == DType::Int64);
      if (shard < 2) CHECK(batch.target.to_vector<int64_t>() == std::vector<int64_t>{shard});
    }
    CHECK(batches == 1);
  }
}

TEST_CASE("Datasets give an empty Batch with the per-sample shape for no indices", "[data][dataset][shards]") {
  const data::TensorDataset tensors(full({5, 3, 2}, 1.0f, DType::Float32), zeros({5}, DType::Int64));
  const data::Batch from_tensors = tensors.get_batch({});
  CHECK(from_tensors.data.shape() == Shape{0, 3, 2});
  CHECK(from_tensors.data.dtype() == DType::Float32);
  CHECK(from_tensors.target.shape() == Shape{0});
  CHECK(from_tensors.target.dtype() == DType::Int64);

  TempDir dir;
  std::vector<uint8_t> pixels(3 * 4 * 5, 7), labels{1, 2, 3};
  data::write_idx(dir.file("train-images-idx3-ubyte"), from_vector(pixels, {3, 4, 5}));
  data::write_idx(dir.file("train-labels-idx1-ubyte"), from_vector(labels, {3}));
  const data::MnistDataset mnist(dir.path.string(), data::Split::Train);
  const data::Batch from_mnist = mnist.get_batch({});
  CHECK(from_mnist.data.shape() == Shape{0, 1, 4, 5});
  CHECK(from_mnist.data.dtype() == DType::Float32);
  CHECK(from_mnist.target.shape() == Shape{0});
  CHECK(from_mnist.target.dtype() == DType::Int64);
}

TEST_CASE("DataLoader rejects bad shard options", "[data][dataloader][shards]") {
  const data::TensorDataset dataset = numbered_dataset(10);
  const auto options = data::DataLoaderOptions().batch_size(4);
  WISP_REQUIRE_ERROR(data::DataLoader(dataset, data::DataLoaderOptions(options).num_shards(0)),
                     "expected num_shards >= 1 but got 0");
  WISP_REQUIRE_ERROR(data::DataLoader(dataset, data::DataLoaderOptions(options).num_shards(-2)), "got -2");
  WISP_REQUIRE_ERROR(data::DataLoader(dataset, data::DataLoaderOptions(options).num_shards(3).shard(3)),
                     "expected shard in [0, 3) but got 3");
  WISP_REQUIRE_ERROR(data::DataLoader(dataset, data::DataLoaderOptions(options).num_shards(3).shard(-1)),
                     "expected shard in [0, 3) but got -1");
  WISP_REQUIRE_ERROR(data::DataLoader(dataset, data::DataLoaderOptions(options).shard(1)),
                     "expected shard in [0, 1) but got 1");
  // Allowed: an unsharded unseeded shuffle, a sharded seeded one, a sharded one in order.
  data::DataLoader unsharded(dataset, data::DataLoaderOptions(options).shuffle(true));
  data::DataLoader seeded(dataset, data::DataLoaderOptions(options).num_shards(2).shard(1).shuffle(true).seed(1));
  data::DataLoader ordered(dataset, data::DataLoaderOptions(options).num_shards(2).shard(1));
  CHECK(run_epoch(unsharded).size() == 3);
  CHECK(run_epoch(seeded).size() == 3);
  CHECK(run_epoch(ordered) == Epoch{{1, 3}, {5, 7}, {9}});
}

TEST_CASE("sharded loaders shuffling from equal default generators split the same permutation",
          "[data][dataloader][shards]") {
  const data::TensorDataset dataset = numbered_dataset(10);
  const auto options = data::DataLoaderOptions().batch_size(4).shuffle(true).num_shards(2);
  manual_seed(5);
  data::DataLoader whole(dataset, data::DataLoaderOptions().batch_size(4).shuffle(true));
  const Epoch expected = run_epoch(whole);
  Epoch parts[2];
  for (int64_t shard = 0; shard < 2; ++shard) {
    manual_seed(5);  // as DataParallel leaves every process: the same generator state
    data::DataLoader loader(dataset, data::DataLoaderOptions(options).shard(shard));
    parts[shard] = run_epoch(loader);
  }
  for (size_t batch = 0; batch < expected.size(); ++batch) {
    std::vector<int64_t> merged;
    for (size_t i = 0; i < expected[batch].size(); ++i) merged.push_back(parts[i % 2][batch][i / 2]);
    CHECK(merged == expected[batch]);
  }
}
