#include "wisp/distributed/process_group.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "wisp/core/config.h"
#include "wisp/core/error.h"
#include "wisp/core/factories.h"
#include "wisp/distributed/mpi_process_group.h"

namespace wisp::distributed {

const char* to_string(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return "sum";
    case ReduceOp::Mean:
      return "mean";
    case ReduceOp::Max:
      return "max";
    case ReduceOp::Min:
      return "min";
  }
  return "?";
}

double default_timeout_seconds() {
  const char* text = std::getenv("WISP_DISTRIBUTED_TIMEOUT");
  if (text == nullptr || *text == '\0') return 300.0;
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  WISP_CHECK(end != text && *end == '\0' && seconds > 0 && seconds < 1e9,
             "expected WISP_DISTRIBUTED_TIMEOUT to be a number of seconds > 0 but it is \"", text, "\"");
  return seconds;
}

bool default_debug() {
  const char* text = std::getenv("WISP_DISTRIBUTED_DEBUG");
  if (text == nullptr || *text == '\0') return false;
  const std::string value = text;
  if (value == "1" || value == "true") return true;
  WISP_CHECK(value == "0" || value == "false", "expected WISP_DISTRIBUTED_DEBUG to be 0, 1, false or true but it is \"",
             value, "\"");
  return false;
}

ProcessGroup::ProcessGroup(int rank, int size)
    : rank_(rank), size_(size), timeout_seconds_(default_timeout_seconds()), debug_(default_debug()) {
  WISP_CHECK(size >= 1 && rank >= 0 && rank < size, "expected 0 <= rank < size but got rank ", rank, " of ", size);
}

void ProcessGroup::set_timeout(double seconds) {
  WISP_CHECK(seconds > 0, "expected a collective timeout > 0 seconds but got ", seconds);
  timeout_seconds_ = seconds;
}

std::string ProcessGroup::broadcast_bytes(const std::string& bytes, int root) {
  Tensor length = from_vector(std::vector<int64_t>{static_cast<int64_t>(bytes.size())});
  broadcast(length, root);
  const int64_t count = length.item<int64_t>();
  Tensor buffer = zeros({count}, DType::UInt8);
  if (rank() == root && count > 0) std::memcpy(buffer.raw_data(), bytes.data(), bytes.size());
  if (count > 0) broadcast(buffer, root);
  return std::string(static_cast<const char*>(buffer.raw_data()), static_cast<size_t>(count));
}

namespace {

void check_reducible(const Tensor& tensor, ReduceOp op) {
  WISP_CHECK(tensor.defined(), "all_reduce: expected a tensor but got an undefined one");
  const DType dtype = tensor.dtype();
  WISP_CHECK(dtype == DType::Float32 || dtype == DType::Int32 || dtype == DType::Int64,
             "all_reduce: expected a float32, int32 or int64 tensor but got ", dtype);
  WISP_CHECK(op != ReduceOp::Mean || dtype == DType::Float32, "all_reduce: mean expects a float32 tensor but got ",
             dtype);
}

// One process: every collective leaves its tensor as it is (the reduction of one value is itself).
class SingleProcessGroup final : public ProcessGroup {
 public:
  SingleProcessGroup() : ProcessGroup(0, 1) {}
  std::string backend() const override { return "single"; }
  void all_reduce(Tensor& tensor, ReduceOp op) override {
    check_reducible(tensor, op);
    next_collective();
  }
  void broadcast(Tensor& tensor, int root) override {
    WISP_CHECK(tensor.defined(), "broadcast: expected a tensor but got an undefined one");
    WISP_CHECK(root == 0, "broadcast: expected root 0 (the only rank) but got ", root);
    next_collective();
  }
  Tensor all_gather(const Tensor& tensor) override {
    WISP_CHECK(tensor.defined(), "all_gather: expected a tensor but got an undefined one");
    next_collective();
    return tensor.dim() == 0 ? tensor.reshape({1}).clone() : tensor.clone();
  }
  void barrier() override { next_collective(); }
  [[noreturn]] void abort_job(int exit_code) override { std::exit(exit_code); }
};

}  // namespace

void check_collective_tensor(const Tensor& tensor, ReduceOp op) { check_reducible(tensor, op); }

std::unique_ptr<ProcessGroup> make_single_process_group() { return std::make_unique<SingleProcessGroup>(); }

bool launched_by_mpi() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(variable) != nullptr) return true;
  return false;
}

bool mpi_available() { return WISP_WITH_MPI != 0; }

ProcessGroup& default_group() {
  static std::once_flag once;
  static std::unique_ptr<ProcessGroup> group;
  std::call_once(once, [] {
    if (!launched_by_mpi()) {
      group = make_single_process_group();
      return;
    }
#if WISP_WITH_MPI
    group = make_mpi_process_group();
#else
    WISP_FAIL("this process was started by an MPI launcher (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK is set) "
              "but this build of wisp has no MPI backend (configure with WISP_MPI=ON and Open MPI installed: "
              "apt-get install libopenmpi-dev)");
#endif
  });
  return *group;
}

}  // namespace wisp::distributed
