// The one-process group and DataParallel in a single process (every build, MPI or not); the
// collectives between processes are tested under mpirun (tests/distributed/mpi/).
#include <string>

#include "test_helpers.h"
#include "wisp/distributed/data_parallel.h"
#include "wisp/distributed/process_group.h"

using namespace wisp;

namespace {

using testing::EnvironmentGuard;

nn::Sequential small_model() {
  nn::Sequential model;
  model.push_back(nn::SparseLinear(6, 5, nn::SparseLinearOptions().sparsity(0.5)))
      .push_back(nn::ReLU())
      .push_back(nn::Linear(5, 3));
  return model;
}

}  // namespace

TEST_CASE("the one-process group leaves tensors as they are and counts its collectives", "[distributed]") {
  const std::unique_ptr<distributed::ProcessGroup> group = distributed::make_single_process_group();
  CHECK(group->backend() == "single");
  CHECK(group->rank() == 0);
  CHECK(group->size() == 1);
  Tensor values = from_vector(std::vector<float>{1, -2, 3});
  group->all_reduce(values, distributed::ReduceOp::Mean);
  group->all_reduce(values, distributed::ReduceOp::Max);
  group->broadcast(values, 0);
  CHECK(values.to_vector<float>() == std::vector<float>{1, -2, 3});
  const Tensor gathered = group->all_gather(from_vector(std::vector<int64_t>{7}).reshape({}));
  CHECK(gathered.shape() == Shape{1});
  CHECK(gathered.item<int64_t>() == 7);
  group->barrier();
  CHECK(group->broadcast_bytes(std::string("a\0b", 3)) == std::string("a\0b", 3));
  CHECK(group->collectives() == 7);  // broadcast_bytes: its length, then its bytes
  WISP_REQUIRE_ERROR(group->broadcast(values, 1), "expected root 0 (the only rank) but got 1");
  Tensor bytes = zeros({2}, DType::UInt8);
  WISP_REQUIRE_ERROR(group->all_reduce(bytes), "expected a float32, int32 or int64 tensor but got uint8");
  Tensor integers = zeros({2}, DType::Int64);
  WISP_REQUIRE_ERROR(group->all_reduce(integers, distributed::ReduceOp::Mean), "mean expects a float32 tensor");
}

TEST_CASE("the default group is one process unless an MPI launcher started this one", "[distributed]") {
  if (distributed::launched_by_mpi()) return;  // the [mpi] tests cover that case
  CHECK(distributed::default_group().backend() == "single");
  CHECK(distributed::default_group().size() == 1);
}

TEST_CASE("the collective timeout and debug mode come from the environment", "[distributed]") {
  {
    EnvironmentGuard timeout("WISP_DISTRIBUTED_TIMEOUT", nullptr);
    CHECK(distributed::default_timeout_seconds() == 300.0);
  }
  {
    EnvironmentGuard timeout("WISP_DISTRIBUTED_TIMEOUT", "2.5");
    CHECK(distributed::default_timeout_seconds() == 2.5);
    CHECK(distributed::make_single_process_group()->timeout() == 2.5);
  }
  for (const char* wrong : {"0", "-1", "5s", "soon"}) {
    EnvironmentGuard timeout("WISP_DISTRIBUTED_TIMEOUT", wrong);
    WISP_REQUIRE_ERROR(
        distributed::default_timeout_seconds(),
        "expected WISP_DISTRIBUTED_TIMEOUT to be a number of seconds > 0 but it is \"" + std::string(wrong) + "\"");
  }
  {
    EnvironmentGuard debug("WISP_DISTRIBUTED_DEBUG", "1");
    CHECK(distributed::default_debug());
    CHECK(distributed::make_single_process_group()->debug());
  }
  {
    EnvironmentGuard debug("WISP_DISTRIBUTED_DEBUG", "0");
    CHECK_FALSE(distributed::default_debug());
  }
  {
    EnvironmentGuard debug("WISP_DISTRIBUTED_DEBUG", "yes");
    WISP_REQUIRE_ERROR(distributed::default_debug(), "expected WISP_DISTRIBUTED_DEBUG to be 0, 1, false or true");
  }
  const std::unique_ptr<distributed::ProcessGroup> group = distributed::make_single_process_group();
  group->set_timeout(0.5);
  CHECK(group->timeout() == 0.5);
  WISP_REQUIRE_ERROR(group->set_timeout(0), "expected a collective timeout > 0 seconds but got 0");
}

TEST_CASE("DataParallel on one process trains exactly as without it", "[distributed]") {
  const std::unique_ptr<distributed::ProcessGroup> group = distributed::make_single_process_group();
  const Tensor input = rand({8, 6});
  const Tensor target = from_vector(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1});
  manual_seed(3);
  nn::Sequential plain = small_model();
  manual_seed(3);
  nn::Sequential parallel_model = small_model();
  optim::SGD plain_optimizer(plain.parameters(), optim::SGDOptions(0.1).momentum(0.9));
  optim::SGD parallel_optimizer(parallel_model.parameters(), optim::SGDOptions(0.1).momentum(0.9));
  distributed::DataParallel parallel(parallel_model, parallel_optimizer, *group);
  for (int step = 0; step < 3; ++step) {
    plain_optimizer.zero_grad();
    cross_entropy(plain(input), target).backward();
    plain_optimizer.step();
    parallel_optimizer.zero_grad();
    cross_entropy(parallel_model(input), target).backward();
    parallel.step(8);
  }
  const auto expected = plain.state_dict(), actual = parallel_model.state_dict();
  REQUIRE(expected.size() == actual.size());
  for (size_t i = 0; i < expected.size(); ++i)
    if (expected[i].second.dtype() == DType::Float32)
      CHECK(actual[i].second.to_vector<float>() == expected[i].second.to_vector<float>());
  CHECK(parallel.statistics().synchronizations == 3);
  WISP_REQUIRE_ERROR(parallel.synchronize(-1), "expected a local sample count >= 0 but got -1");
}

TEST_CASE("DataParallel's fingerprint names every state tensor and each SparseLinear's connections", "[distributed]") {
  manual_seed(4);
  nn::Sequential model = small_model();
  optim::SGD optimizer(model.parameters(), optim::SGDOptions(0.1));
  const std::unique_ptr<distributed::ProcessGroup> group = distributed::make_single_process_group();
  distributed::DataParallel parallel(model, optimizer, *group);
  const std::string fingerprint = parallel.fingerprint();
  CHECK_THAT(fingerprint, Catch::StartsWith("0 SparseLinear 6x5 nnz=15 connections="));
  CHECK_THAT(fingerprint, Catch::Contains("0.weights float32 [15]\n"));
  CHECK_THAT(fingerprint, Catch::Contains("0.indices int64 [2, 15]\n"));
  CHECK_THAT(fingerprint, Catch::Contains("2.weight float32 [3, 5]\n"));
  // Other connections, another hash.
  manual_seed(5);
  nn::Sequential other = small_model();
  optim::SGD other_optimizer(other.parameters(), optim::SGDOptions(0.1));
  distributed::DataParallel other_parallel(other, other_optimizer, *group);
  CHECK(other_parallel.fingerprint() != fingerprint);
  WISP_REQUIRE_ERROR(
      distributed::DataParallel(model, optimizer, *group, distributed::DataParallelOptions().bucket_bytes(2)),
      "expected bucket_bytes >= 4 but got 2");
}
