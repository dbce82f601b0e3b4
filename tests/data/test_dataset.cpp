// TensorDataset: gathering rows of any dtype, argument checks, and use with DataLoader.
#include <algorithm>

#include "test_helpers.h"

using namespace wisp;

TEST_CASE("TensorDataset gathers the requested rows in order", "[data][dataset]") {
  const Tensor features = arange(24).to(DType::Float32).view({4, 2, 3});
  const Tensor labels = from_vector(std::vector<int64_t>{10, 11, 12, 13});
  data::TensorDataset dataset(features, labels);
  CHECK(dataset.size() == 4);

  const data::Batch batch = dataset.get_batch({3, 0, 3});
  REQUIRE(batch.data.shape() == Shape{3, 2, 3});
  REQUIRE(batch.data.dtype() == DType::Float32);
  CHECK(batch.data.to_vector<float>() ==
        std::vector<float>{18, 19, 20, 21, 22, 23, 0, 1, 2, 3, 4, 5, 18, 19, 20, 21, 22, 23});
  CHECK(batch.target.to_vector<int64_t>() == std::vector<int64_t>{13, 10, 13});
  CHECK(batch.data.raw_data() != features.raw_data());  // a copy, not a view

  // Other dtypes are copied as they are.
  WISP_REQUIRE_ERROR(data::TensorDataset(from_vector(std::vector<uint8_t>{1, 2, 3, 4, 5, 6}, {3, 2}), labels),
                     "as many targets as samples", "3 samples", "target has 4");
  data::TensorDataset three_bytes(from_vector(std::vector<uint8_t>{1, 2, 3, 4, 5, 6}, {3, 2}),
                                  from_vector(std::vector<int64_t>{0, 1, 2}));
  CHECK(three_bytes.get_batch({2, 1}).data.to_vector<uint8_t>() == std::vector<uint8_t>{5, 6, 3, 4});
  CHECK(three_bytes.get_batch({}).data.shape() == Shape{0, 2});

  WISP_REQUIRE_ERROR(dataset.get_batch({1, 4}), "TensorDataset::get_batch", "sample index 4", "position 1",
                     "out of range [0, 4)");
}

TEST_CASE("TensorDataset checks its tensors", "[data][dataset]") {
  const Tensor labels = from_vector(std::vector<int64_t>{0, 1});
  WISP_REQUIRE_ERROR(data::TensorDataset(zeros({2, 3}), labels.to(DType::Int32)), "Int64 target", "int32");
  WISP_REQUIRE_ERROR(data::TensorDataset(zeros({2, 3}), labels.view({1, 2})), "shape [N]", "[1, 2]");
  WISP_REQUIRE_ERROR(data::TensorDataset(full({}, 1.0), labels), "[N, ...]", "0-d");
  WISP_REQUIRE_ERROR(data::TensorDataset(Tensor(), labels), "defined");
}

TEST_CASE("TensorDataset with a DataLoader covers every sample", "[data][dataset]") {
  const Tensor features = arange(10).to(DType::Float32).view({10, 1});
  data::TensorDataset dataset(features, arange(10, DType::Int64));
  data::DataLoader loader(dataset, data::DataLoaderOptions().batch_size(3).shuffle(true).seed(0));
  std::vector<int64_t> seen;
  for (const data::Batch& batch : loader) {
    const std::vector<int64_t> targets = batch.target.to_vector<int64_t>();
    const std::vector<float> values = batch.data.to_vector<float>();
    for (size_t i = 0; i < targets.size(); ++i) CHECK(values[i] == static_cast<float>(targets[i]));
    seen.insert(seen.end(), targets.begin(), targets.end());
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}
