// Tensor metadata, storage sharing, element access, conversions and their errors.
#include "test_helpers.h"

using namespace wisp;
using wisp::testing::values;

TEST_CASE("tensor metadata", "[core][tensor]") {
  Tensor t = zeros({2, 3, 4});
  CHECK(t.dim() == 3);
  CHECK(t.numel() == 24);
  CHECK(t.size(0) == 2);
  CHECK(t.size(-1) == 4);
  CHECK(t.size(-3) == 2);
  CHECK(t.shape() == Shape{2, 3, 4});
  CHECK(t.dtype() == DType::Float32);
  CHECK(t.device() == Device::cpu());
  CHECK(t.nbytes() == 24 * 4);
  CHECK(reinterpret_cast<uintptr_t>(t.raw_data()) % 64 == 0);  // CPU storage is 64-byte aligned
  WISP_REQUIRE_ERROR(t.size(3), "dimension out of range", "[-3, 2]", "got 3");
  WISP_REQUIRE_ERROR(t.size(-4), "got -4");
  Tensor scalar = full({}, 2.5);
  CHECK(scalar.dim() == 0);
  CHECK(scalar.numel() == 1);
  CHECK(scalar.item<float>() == 2.5f);
  WISP_REQUIRE_ERROR(scalar.size(0), "0-dimensional");
}

TEST_CASE("undefined tensors fail clearly", "[core][tensor]") {
  Tensor t;
  CHECK_FALSE(t.defined());
  WISP_REQUIRE_ERROR(t.shape(), "undefined");
}

TEST_CASE("view, reshape and flatten share storage", "[core][tensor]") {
  Tensor t = arange(12).to(DType::Float32);
  Tensor v = t.view({3, -1});
  CHECK(v.shape() == Shape{3, 4});
  CHECK(v.raw_data() == t.raw_data());
  Tensor r = v.reshape({2, 2, 3});
  CHECK(r.raw_data() == t.raw_data());
  CHECK(r.flatten().shape() == Shape{12});
  CHECK(r.flatten(1).shape() == Shape{2, 6});
  CHECK(r.flatten(0, 1).shape() == Shape{4, 3});
  {
    NoGradGuard no_grad;
    v.at<float>(1, 2) = 100.0f;
  }
  CHECK(t.at<float>(6) == 100.0f);  // the write through the view is visible in the original
  WISP_REQUIRE_ERROR(t.view({5, -1}), "view", "[5, -1]", "invalid for input of size 12");
  WISP_REQUIRE_ERROR(t.view({-1, -1}), "only one dimension can be inferred");
  WISP_REQUIRE_ERROR(t.view({-2, 6}), "view", "invalid size -2", "[-2, 6]");
  WISP_REQUIRE_ERROR(t.view({3, 5}), "[3, 5]", "12");
  WISP_REQUIRE_ERROR(r.flatten(2, 1), "flatten", "start_dim");
  // A 0-d tensor flattens to [1] for dimensions in [-1, 0], as PyTorch, and refuses others.
  const Tensor scalar = full(Shape{}, 7.0);
  CHECK(scalar.flatten().shape() == Shape{1});
  CHECK(scalar.flatten(-1, 0).shape() == Shape{1});
  WISP_REQUIRE_ERROR(scalar.flatten(1),
                     "flatten: dimension out of range (expected to be in range of [-1, 0], but got 1)");
  WISP_REQUIRE_ERROR(scalar.flatten(0, 5), "but got 5");
}

TEST_CASE("element access and typed reads", "[core][tensor]") {
  Tensor t = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.at<float>(0, 0) == 1.0f);
  CHECK(t.at<float>(1, 2) == 6.0f);
  CHECK(t.data<float>()[4] == 5.0f);
  CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  WISP_REQUIRE_ERROR(t.at<float>(2, 0), "index 2 out of range [0, 2)", "dimension 0");
  WISP_REQUIRE_ERROR(t.at<float>(0), "expected 2 indices");
  WISP_REQUIRE_ERROR(t.data<int64_t>(), "expected a tensor of dtype int64 but got float32");
  WISP_REQUIRE_ERROR(t.to_vector<int32_t>(), "int32", "float32");
  WISP_REQUIRE_ERROR(t.item<float>(), "one element", "[2, 3]");
  WISP_REQUIRE_ERROR(from_vector(std::vector<float>{1, 2, 3}, {2, 2}), "expected 4 values", "[2, 2]", "got 3");
  WISP_REQUIRE_ERROR(empty({2, -1}), "non-negative", "[2, -1]");

  // item<T>() converts from any dtype.
  Tensor count = from_vector(std::vector<int64_t>{42}, {1});
  CHECK(count.item<int64_t>() == 42);
  CHECK(count.item<float>() == 42.0f);
  CHECK(count.item<double>() == 42.0);
}

TEST_CASE("dtypes and casts", "[core][tensor]") {
  CHECK(element_size(DType::Float32) == 4);
  CHECK(element_size(DType::Int64) == 8);
  CHECK(element_size(DType::Int32) == 4);
  CHECK(element_size(DType::UInt8) == 1);
  Tensor f = from_vector(std::vector<float>{-1.7f, 0.2f, 2.9f, 255.0f});
  CHECK(f.to(DType::Int64).to_vector<int64_t>() == std::vector<int64_t>{-1, 0, 2, 255});  // truncation
  CHECK(f.to(DType::Int32).to_vector<int32_t>() == std::vector<int32_t>{-1, 0, 2, 255});
  Tensor bytes = from_vector(std::vector<uint8_t>{0, 7, 255});
  CHECK(bytes.dtype() == DType::UInt8);
  CHECK(bytes.to(DType::Float32).to_vector<float>() == std::vector<float>{0, 7, 255});
  CHECK(f.to(DType::Float32).raw_data() == f.raw_data());  // same dtype: the same tensor
}

TEST_CASE("clone, detach, copy_ and fill_", "[core][tensor]") {
  Tensor t = from_vector(std::vector<float>{1, 2, 3});
  Tensor c = t.clone();
  CHECK(c.raw_data() != t.raw_data());
  c.fill_(7);
  CHECK(values(t) == std::vector<float>{1, 2, 3});
  CHECK(values(c) == std::vector<float>{7, 7, 7});
  Tensor d = t.detach();
  CHECK(d.raw_data() == t.raw_data());
  CHECK_FALSE(d.requires_grad());
  c.copy_(from_vector(std::vector<int64_t>{4, 5, 6}));  // copy_ converts dtypes
  CHECK(values(c) == std::vector<float>{4, 5, 6});
  c.zero_();
  CHECK(values(c) == std::vector<float>{0, 0, 0});
  WISP_REQUIRE_ERROR(c.copy_(zeros({4})), "copy_", "[3]", "[4]");
}

TEST_CASE("in-place arithmetic", "[core][tensor]") {
  Tensor t = from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  t.add_(from_vector(std::vector<float>{10, 20}));  // broadcast over rows
  CHECK(values(t) == std::vector<float>{11, 22, 13, 24});
  t.sub_(1.0);
  CHECK(values(t) == std::vector<float>{10, 21, 12, 23});
  t.mul_(2.0);
  CHECK(values(t) == std::vector<float>{20, 42, 24, 46});
  t.add_(ones({2, 2}), -0.5);
  CHECK(values(t) == std::vector<float>{19.5f, 41.5f, 23.5f, 45.5f});
  t.mul_(from_vector(std::vector<float>{0, 1, 2, 3}, {2, 2}));
  CHECK(values(t) == std::vector<float>{0, 41.5f, 47, 136.5f});
  t.sub_(t);
  CHECK(values(t) == std::vector<float>{0, 0, 0, 0});
  WISP_REQUIRE_ERROR(t.add_(zeros({3})), "add", "[2, 2]", "[3]");
  WISP_REQUIRE_ERROR(zeros({2}).add_(zeros({2, 2})), "does not fit", "[2]");
  WISP_REQUIRE_ERROR(t.add_(zeros({2, 2}, DType::Int64)), "same dtype", "float32", "int64");
}

TEST_CASE("device transfers on the CPU", "[core][tensor]") {
  Tensor t = randn({3});
  Tensor same = t.to(Device::cpu());
  CHECK(same.raw_data() == t.raw_data());  // already there: the same tensor
  CHECK(t.cpu().raw_data() == t.raw_data());
}

TEST_CASE("large CPU blocks are cached and reused", "[core][storage]") {
  void* first = nullptr;
  {
    Tensor big = empty({1 << 20});  // 4 MiB
    first = big.raw_data();
  }
  Tensor again = empty({1 << 20});
  CHECK(again.raw_data() == first);  // the freed block came back
  CHECK(reinterpret_cast<uintptr_t>(again.raw_data()) % 64 == 0);
  again = Tensor();
  empty_cpu_cache();
  Tensor fresh = zeros({1 << 20});
  CHECK(fresh.sum().item<float>() == 0.0f);
}
