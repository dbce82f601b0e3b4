// The NCCL communicator (distributed/cuda/nccl_communicator.h) with one rank: every collective of
// one process is a copy, so the values are known; the point is that the calls reach NCCL, that
// their results are ordered with wisp's stream (read right after the call, with no wait), and that
// bad arguments are wisp::Errors. Built only when the build found NCCL (tests/CMakeLists.txt); runs
// only with a GPU (cuda_main.cpp returns 77, "skipped", otherwise).
#include <cstdint>
#include <vector>

#include <wisp/distributed/cuda/nccl_communicator.h>

#include "test_helpers.h"

using namespace wisp;
using distributed::cuda::kNcclUniqueIdBytes;
using distributed::cuda::nccl_unique_id;
using distributed::cuda::NcclCommunicator;
using distributed::cuda::NcclReduceOp;

namespace {

const Device kGpu = Device::cuda(0);

NcclCommunicator one_rank() { return NcclCommunicator(nccl_unique_id(), 0, 1, 0); }

}  // namespace

TEST_CASE("an NCCL unique id is kNcclUniqueIdBytes bytes, new each time", "[cuda][nccl]") {
  const std::string first = nccl_unique_id(), second = nccl_unique_id();
  CHECK(first.size() == kNcclUniqueIdBytes);
  CHECK(second.size() == kNcclUniqueIdBytes);
  CHECK(first != second);
}

TEST_CASE("NCCL all_reduce of one rank keeps the values for sum, max, min and mean", "[cuda][nccl]") {
  NcclCommunicator communicator(nccl_unique_id(), 0, 1, 0);
  CHECK(communicator.rank() == 0);
  CHECK(communicator.size() == 1);
  CHECK(communicator.device() == 0);
  const std::vector<float> values = {1.5f, -2.0f, 0.0f, 3.25f, 1.0e30f};
  for (NcclReduceOp op : {NcclReduceOp::Sum, NcclReduceOp::Max, NcclReduceOp::Min, NcclReduceOp::Mean}) {
    INFO("op " << static_cast<int>(op));
    Tensor tensor = from_vector(values, {5}).to(kGpu);
    communicator.all_reduce(tensor.raw_data(), tensor.numel(), tensor.dtype(), op);
    CHECK(tensor.to_vector<float>() == values);  // read on wisp's stream, with no wait
  }
  const std::vector<int64_t> integers = {int64_t{1} << 40, -7, 0};
  Tensor int64_tensor = from_vector(integers, {3}).to(kGpu);
  communicator.all_reduce(int64_tensor.raw_data(), 3, DType::Int64, NcclReduceOp::Max);
  CHECK(int64_tensor.to_vector<int64_t>() == integers);
  const std::vector<int32_t> int32_values = {2147483647, -5};
  Tensor int32_tensor = from_vector(int32_values, {2}).to(kGpu);
  communicator.all_reduce(int32_tensor.raw_data(), 2, DType::Int32, NcclReduceOp::Sum);
  CHECK(int32_tensor.to_vector<int32_t>() == int32_values);
  CHECK(communicator.wait(60.0));
}

TEST_CASE("NCCL all_reduce reads what wisp's stream wrote just before", "[cuda][nccl]") {
  NcclCommunicator communicator = one_rank();
  // Tensor ops queue their kernels on wisp's stream and return: the collective must wait for them.
  manual_seed(5);
  const Tensor host = randn({1 << 20});
  Tensor tensor = host.to(kGpu) * 2.0f + 1.0f;
  communicator.all_reduce(tensor.raw_data(), tensor.numel(), DType::Float32, NcclReduceOp::Sum);
  const Tensor after = tensor * 3.0f;                            // queued on wisp's stream after the collective
  const Tensor expected = (host.to(kGpu) * 2.0f + 1.0f) * 3.0f;  // the same kernels, no collective
  CHECK(after.to_vector<float>() == expected.to_vector<float>());
}

TEST_CASE("NCCL broadcast and all_gather of one rank copy the values", "[cuda][nccl]") {
  NcclCommunicator communicator = one_rank();
  const std::vector<uint8_t> bytes = {0, 1, 127, 128, 255};
  Tensor byte_tensor = from_vector(bytes, {5}).to(kGpu);
  communicator.broadcast(byte_tensor.raw_data(), 5, DType::UInt8, 0);
  CHECK(byte_tensor.to_vector<uint8_t>() == bytes);

  const std::vector<float> values = {4.0f, -1.0f, 0.5f};
  const Tensor send = from_vector(values, {3}).to(kGpu);
  Tensor receive = zeros({3}, kGpu);
  communicator.all_gather(send.raw_data(), receive.raw_data(), 3, DType::Float32);
  CHECK(receive.to_vector<float>() == values);
  // In place: the rank's own part of the receive buffer is its send buffer.
  Tensor in_place = from_vector(values, {3}).to(kGpu);
  communicator.all_gather(in_place.raw_data(), in_place.raw_data(), 3, DType::Float32);
  CHECK(in_place.to_vector<float>() == values);
  const std::vector<int64_t> indices = {3, 1, 4};
  const Tensor index_send = from_vector(indices, {3}).to(kGpu);
  Tensor index_receive = zeros({3}, TensorOptions(DType::Int64).device(kGpu));
  communicator.all_gather(index_send.raw_data(), index_receive.raw_data(), 3, DType::Int64);
  CHECK(index_receive.to_vector<int64_t>() == indices);
  // Nothing to move is no call at all, on every rank alike.
  communicator.broadcast(nullptr, 0, DType::Float32, 0);
  CHECK(communicator.wait(60.0));
}

TEST_CASE("NCCL communicator arguments out of range are wisp::Errors", "[cuda][nccl]") {
  const std::string id = nccl_unique_id();
  WISP_REQUIRE_ERROR(NcclCommunicator(id, 1, 1, 0), "expected a rank in [0, 1), got 1");
  WISP_REQUIRE_ERROR(NcclCommunicator(id, -1, 2, 0), "expected a rank in [0, 2), got -1");
  WISP_REQUIRE_ERROR(NcclCommunicator(id, 0, 0, 0), "expected at least 1 rank, got size 0");
  WISP_REQUIRE_ERROR(NcclCommunicator("short", 0, 1, 0), "expected an NCCL unique id of 128 bytes", "got 5 bytes");
  WISP_REQUIRE_ERROR(NcclCommunicator(id, 0, 1, cuda::device_count()), "is not available");

  NcclCommunicator communicator = one_rank();
  Tensor bytes = zeros({4}, TensorOptions(DType::UInt8).device(kGpu));
  WISP_REQUIRE_ERROR(communicator.all_reduce(bytes.raw_data(), 4, DType::UInt8, NcclReduceOp::Sum),
                     "expected float32, int32 or int64, got uint8");
  Tensor integers = zeros({4}, TensorOptions(DType::Int32).device(kGpu));
  WISP_REQUIRE_ERROR(communicator.all_reduce(integers.raw_data(), 4, DType::Int32, NcclReduceOp::Mean),
                     "mean expects float32, got int32");
  Tensor values = zeros({4}, kGpu);
  WISP_REQUIRE_ERROR(communicator.broadcast(values.raw_data(), 4, DType::Float32, 1),
                     "expected a root rank in [0, 1), got 1");
  WISP_REQUIRE_ERROR(communicator.all_reduce(values.raw_data(), -1, DType::Float32, NcclReduceOp::Sum),
                     "expected a count >= 0, got -1");

  // After abort() every call is an error, and destroying the communicator is still safe.
  communicator.abort();
  CHECK(communicator.aborted());
  WISP_REQUIRE_ERROR(communicator.all_reduce(values.raw_data(), 4, DType::Float32, NcclReduceOp::Sum), "aborted");
  WISP_REQUIRE_ERROR(communicator.wait(1.0), "aborted");
  communicator.abort();  // twice is harmless
}
