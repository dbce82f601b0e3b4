// NcclCommunicator: NCCL collectives on a stream of their own, ordered with wisp's stream by events.
#include "wisp/distributed/cuda/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <thread>

#include "wisp/core/cuda/check.h"
#include "wisp/core/cuda/runtime.h"
#include "wisp/core/error.h"

static_assert(NCCL_UNIQUE_ID_BYTES == wisp::distributed::cuda::kNcclUniqueIdBytes,
              "kNcclUniqueIdBytes must equal NCCL_UNIQUE_ID_BYTES");
static_assert(sizeof(ncclUniqueId) == NCCL_UNIQUE_ID_BYTES, "ncclUniqueId is its bytes");
static_assert(NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0), "ncclAvg and ncclGetLastError need NCCL 2.13 or later");

namespace wisp::distributed::cuda {
namespace {

// Throws wisp::Error for an NCCL result other than ncclSuccess, naming the call, NCCL's message
// for the code and its last error text (which says what NCCL found wrong).
void check_nccl(ncclResult_t result, const char* call, const char* context) {
  if (result == ncclSuccess) return;
  const char* detail = ncclGetLastError(nullptr);  // the communicator argument is unused
  WISP_FAIL("NCCL error in ", call, context, ": expected ncclSuccess, got ", ncclGetErrorString(result), " (code ",
            static_cast<int>(result), ")", (detail != nullptr && detail[0] != '\0') ? "; NCCL says: " : "",
            detail != nullptr ? detail : "");
}

#define WISP_NCCL_CHECK(call, context) check_nccl((call), #call, (context))

// Makes `device` current for its scope and restores the previous device after; the destructor
// never throws (errors there have nowhere to go).
struct DeviceGuard {
  int previous = 0;
  explicit DeviceGuard(int device) {
    WISP_CUDA_CHECK(cudaGetDevice(&previous));
    if (previous != device) WISP_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { cudaSetDevice(previous); }
};

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return ncclFloat32;
    case DType::Int32:
      return ncclInt32;
    case DType::Int64:
      return ncclInt64;
    case DType::UInt8:
      return ncclUint8;
    case DType::BFloat16:
      return ncclBfloat16;
    case DType::UInt16:
      break;  // NCCL has no 16-bit integer type
  }
  WISP_FAIL("NcclCommunicator: expected a float32, bfloat16, int32, int64 or uint8 tensor but got ", dtype);
}

const char* op_name(NcclReduceOp op) {
  switch (op) {
    case NcclReduceOp::Sum:
      return "sum";
    case NcclReduceOp::Mean:
      return "mean";
    case NcclReduceOp::Max:
      return "max";
    case NcclReduceOp::Min:
      return "min";
  }
  return "unknown";
}

ncclRedOp_t nccl_op(NcclReduceOp op) {
  switch (op) {
    case NcclReduceOp::Sum:
      return ncclSum;
    case NcclReduceOp::Mean:
      return ncclAvg;
    case NcclReduceOp::Max:
      return ncclMax;
    case NcclReduceOp::Min:
      return ncclMin;
  }
  WISP_FAIL("NcclCommunicator::all_reduce: unknown reduce op code ", static_cast<int>(op));
}

}  // namespace

std::string nccl_unique_id() {
  ncclUniqueId id;
  WISP_NCCL_CHECK(ncclGetUniqueId(&id), "");
  return std::string(id.internal, sizeof(id.internal));
}

NcclCommunicator::NcclCommunicator(const std::string& unique_id, int rank, int size, int device)
    : rank_(rank), size_(size), device_(device) {
  WISP_CHECK(unique_id.size() == kNcclUniqueIdBytes, "NcclCommunicator: expected an NCCL unique id of ",
             kNcclUniqueIdBytes, " bytes (nccl_unique_id()), got ", unique_id.size(), " bytes");
  WISP_CHECK(size >= 1, "NcclCommunicator: expected at least 1 rank, got size ", size);
  WISP_CHECK(rank >= 0 && rank < size, "NcclCommunicator: expected a rank in [0, ", size, "), got ", rank);
  wisp_stream_ = cuda_runtime::stream(device);  // throws unless GPU `device` is there
  try {
    DeviceGuard guard(device);
    WISP_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    WISP_CUDA_CHECK(cudaEventCreateWithFlags(&wisp_ready_, cudaEventDisableTiming));
    WISP_CUDA_CHECK(cudaEventCreateWithFlags(&collective_done_, cudaEventDisableTiming));
    ncclUniqueId id;
    std::memcpy(id.internal, unique_id.data(), kNcclUniqueIdBytes);
    const std::string context =
        " (rank " + std::to_string(rank) + " of " + std::to_string(size) + ", GPU " + std::to_string(device) + ")";
    ncclComm_t comm = nullptr;  // kept only once it is complete, so that a failed init is not destroyed
    WISP_NCCL_CHECK(ncclCommInitRank(&comm, size, id, rank), context.c_str());
    comm_ = comm;
  } catch (...) {
    release();
    throw;
  }
}

NcclCommunicator::~NcclCommunicator() { release(); }

void NcclCommunicator::release() noexcept {
  int previous = 0;
  const bool switched =
      cudaGetDevice(&previous) == cudaSuccess && previous != device_ && cudaSetDevice(device_) == cudaSuccess;
  if (comm_ != nullptr) ncclCommDestroy(comm_);
  comm_ = nullptr;
  if (collective_done_ != nullptr) cudaEventDestroy(collective_done_);
  if (wisp_ready_ != nullptr) cudaEventDestroy(wisp_ready_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);  // its queued work still completes
  collective_done_ = wisp_ready_ = nullptr;
  stream_ = nullptr;
  if (switched) cudaSetDevice(previous);
  cudaGetLastError();  // leave no sticky error behind for wisp's next CUDA check
}

void NcclCommunicator::check_usable(const char* what) const {
  WISP_CHECK(comm_ != nullptr, "NcclCommunicator::", what, ": the communicator (rank ", rank_, " of ", size_,
             ") was aborted; expected a live one");
}

void NcclCommunicator::wait_for_wisp_stream() {
  WISP_CUDA_CHECK(cudaEventRecord(wisp_ready_, wisp_stream_));
  WISP_CUDA_CHECK(cudaStreamWaitEvent(stream_, wisp_ready_, 0));
}

void NcclCommunicator::make_wisp_stream_wait() {
  WISP_CUDA_CHECK(cudaEventRecord(collective_done_, stream_));
  WISP_CUDA_CHECK(cudaStreamWaitEvent(wisp_stream_, collective_done_, 0));
}

void NcclCommunicator::all_reduce(void* data, int64_t count, DType dtype, NcclReduceOp op) {
  check_usable("all_reduce");
  WISP_CHECK(dtype == DType::Float32 || dtype == DType::Int32 || dtype == DType::Int64,
             "NcclCommunicator::all_reduce: expected float32, int32 or int64, got ", dtype);
  WISP_CHECK(op != NcclReduceOp::Mean || dtype == DType::Float32,
             "NcclCommunicator::all_reduce: mean expects float32, got ", dtype);
  WISP_CHECK(count >= 0, "NcclCommunicator::all_reduce: expected a count >= 0, got ", count);
  if (count == 0) return;  // every rank has nothing to combine
  WISP_CHECK(data != nullptr, "NcclCommunicator::all_reduce: expected a device pointer, got null for ", count,
             " elements");
  DeviceGuard guard(device_);
  wait_for_wisp_stream();
  const std::string context = std::string(" (") + op_name(op) + ", " + std::to_string(count) + " elements)";
  WISP_NCCL_CHECK(ncclAllReduce(data, data, static_cast<size_t>(count), nccl_type(dtype), nccl_op(op), comm_, stream_),
                  context.c_str());
  make_wisp_stream_wait();
}

void NcclCommunicator::broadcast(void* data, int64_t count, DType dtype, int root) {
  check_usable("broadcast");
  WISP_CHECK(root >= 0 && root < size_, "NcclCommunicator::broadcast: expected a root rank in [0, ", size_, "), got ",
             root);
  WISP_CHECK(count >= 0, "NcclCommunicator::broadcast: expected a count >= 0, got ", count);
  if (count == 0) return;
  WISP_CHECK(data != nullptr, "NcclCommunicator::broadcast: expected a device pointer, got null for ", count,
             " elements");
  DeviceGuard guard(device_);
  wait_for_wisp_stream();
  const std::string context = " (root " + std::to_string(root) + ", " + std::to_string(count) + " elements)";
  WISP_NCCL_CHECK(ncclBroadcast(data, data, static_cast<size_t>(count), nccl_type(dtype), root, comm_, stream_),
                  context.c_str());
  make_wisp_stream_wait();
}

void NcclCommunicator::all_gather(const void* send, void* receive, int64_t count_per_rank, DType dtype) {
  check_usable("all_gather");
  WISP_CHECK(count_per_rank >= 0, "NcclCommunicator::all_gather: expected a count per rank >= 0, got ", count_per_rank);
  WISP_CHECK(count_per_rank <= std::numeric_limits<int64_t>::max() / size_,
             "NcclCommunicator::all_gather: expected at most ", std::numeric_limits<int64_t>::max() / size_,
             " elements per rank for ", size_, " ranks, got ", count_per_rank);
  if (count_per_rank == 0) return;
  WISP_CHECK(send != nullptr && receive != nullptr,
             "NcclCommunicator::all_gather: expected device pointers, got null for ", count_per_rank,
             " elements per rank");
  DeviceGuard guard(device_);
  wait_for_wisp_stream();
  const std::string context = " (" + std::to_string(count_per_rank) + " elements per rank)";
  WISP_NCCL_CHECK(ncclAllGather(send, receive, static_cast<size_t>(count_per_rank), nccl_type(dtype), comm_, stream_),
                  context.c_str());
  make_wisp_stream_wait();
}

bool NcclCommunicator::wait(double timeout_seconds) {
  check_usable("wait");
  WISP_CHECK(timeout_seconds >= 0, "NcclCommunicator::wait: expected a timeout >= 0 seconds, got ", timeout_seconds);
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_seconds));
  // Short sleeps first (a collective of a training step takes micro- to milliseconds), then up to
  // 1 ms, so that a long wait costs the host next to nothing.
  std::chrono::microseconds pause(20);
  const std::chrono::microseconds longest_pause(1000);
  for (;;) {
    ncclResult_t asynchronous = ncclSuccess;
    WISP_NCCL_CHECK(ncclCommGetAsyncError(comm_, &asynchronous), "");
    if (asynchronous != ncclSuccess && asynchronous != ncclInProgress)
      check_nccl(asynchronous, "a collective (ncclCommGetAsyncError)",
                 (" (rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ")").c_str());
    const cudaError_t state = cudaStreamQuery(stream_);
    if (state == cudaSuccess) return true;
    if (state != cudaErrorNotReady)
      WISP_FAIL("CUDA error in cudaStreamQuery (NcclCommunicator::wait, rank ", rank_, " of ", size_,
                "): expected cudaSuccess or cudaErrorNotReady, got ", cudaGetErrorName(state), " (",
                cudaGetErrorString(state), ")");
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, longest_pause);
  }
}

void NcclCommunicator::abort() noexcept {
  if (comm_ == nullptr) return;
  int previous = 0;
  const bool switched =
      cudaGetDevice(&previous) == cudaSuccess && previous != device_ && cudaSetDevice(device_) == cudaSuccess;
  ncclCommAbort(comm_);
  comm_ = nullptr;
  if (switched) cudaSetDevice(previous);
}

}  // namespace wisp::distributed::cuda
