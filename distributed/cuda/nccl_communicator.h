// NcclCommunicator: collectives between the GPUs of several processes through NCCL, for
// distributed::ProcessGroup's CUDA tensors. A plain C++ header (no CUDA or NCCL headers), so that
// distributed/*.cpp compiled by the C++ compiler can include it; compiled only when the build found
// NCCL (WISP_WITH_NCCL in wisp/core/config.h, target wisp::wisp_nccl).
//
//   // rank 0 makes the id and sends it to the others (ProcessGroup: over MPI)
//   std::string id = rank == 0 ? distributed::cuda::nccl_unique_id() : receive_from_rank_0();
//   distributed::cuda::NcclCommunicator communicator(id, rank, size, /*device=*/0);
//   communicator.all_reduce(tensor.raw_data(), tensor.numel(), tensor.dtype(), NcclReduceOp::Sum);
//   if (!communicator.wait(timeout_seconds)) { report(); communicator.abort(); MPI_Abort(...); }
//
// Each collective runs on the communicator's own CUDA stream, ordered with wisp's stream of the same
// GPU (cuda_runtime::stream(device), where wisp's kernels and copies run) without a host wait: it
// starts after the work already queued there, and work queued there afterwards starts after it. So
// a tensor may be read or written by wisp ops right after the call; wait() is only needed to bound
// the time a collective may take (a missing peer makes it hang on the GPU).
//
// Every CUDA or NCCL failure is a wisp::Error naming the call and NCCL's or CUDA's message. Not
// thread-safe: one thread uses a communicator at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "wisp/core/dtype.h"

// Opaque CUDA and NCCL types (cudaStream_t is `CUstream_st*`, cudaEvent_t `CUevent_st*`, ncclComm_t
// `ncclComm*`), declared here so that this header stays free of their headers.
struct CUstream_st;
struct CUevent_st;
struct ncclComm;

namespace wisp::distributed::cuda {

// The size of an NCCL unique id (NCCL_UNIQUE_ID_BYTES).
constexpr size_t kNcclUniqueIdBytes = 128;

// A new NCCL unique id, as kNcclUniqueIdBytes raw bytes: one rank makes it and every rank passes
// the same bytes to NcclCommunicator. Needs no GPU (NCCL's bootstrap listens on a network interface).
std::string nccl_unique_id();

// Mean averages with ncclAvg (float32 only).
enum class NcclReduceOp { Sum, Mean, Max, Min };

class NcclCommunicator {
 public:
  // Joins the communicator of `size` ranks named by `unique_id` as rank `rank`, on GPU `device`
  // (ncclCommInitRank, which returns once every rank has joined). Throws wisp::Error for an id that
  // is not kNcclUniqueIdBytes long, size < 1, a rank outside [0, size), a GPU that is not there, or
  // a failure of CUDA or NCCL.
  NcclCommunicator(const std::string& unique_id, int rank, int size, int device);
  // ncclCommDestroy (after the communicator's queued work), then the stream; never throws.
  ~NcclCommunicator();
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int device() const { return device_; }

  // The collectives take device pointers on device() and element counts; every rank must call the
  // same collectives in the same order with the same counts and dtypes. They return once queued.

  // Combines `count` elements of `data` across the ranks, in place: Sum, Max and Min for float32,
  // int32 and int64; Mean for float32.
  void all_reduce(void* data, int64_t count, DType dtype, NcclReduceOp op);
  // Gives every rank the `count` elements of `data` on rank `root`, in place (every dtype).
  void broadcast(void* data, int64_t count, DType dtype, int root);
  // `receive` (count_per_rank * size() elements) gets every rank's `count_per_rank` elements of
  // `send`, in rank order (every dtype). `send` may be receive + rank() * count_per_rank.
  void all_gather(const void* send, void* receive, int64_t count_per_rank, DType dtype);

  // Blocks until the collectives queued so far are done (true), or `timeout_seconds` have passed
  // (false: a peer is probably missing; report it and abort()). Polls the stream and NCCL's
  // asynchronous error, sleeping briefly in between; throws wisp::Error for an NCCL or CUDA error.
  bool wait(double timeout_seconds);
  // Aborts the communicator (ncclCommAbort): its pending collectives are cancelled and every later
  // call throws wisp::Error. Never throws; the way out after wait() timed out.
  void abort() noexcept;
  bool aborted() const { return comm_ == nullptr; }

 private:
  // Destroys whatever of the stream, events and communicator exist; never throws.
  void release() noexcept;
  // Throws unless the communicator has not been aborted; `what` names the call.
  void check_usable(const char* what) const;
  // Makes the communicator's stream wait for wisp's stream (before a collective), or wisp's stream
  // wait for the communicator's (after one).
  void wait_for_wisp_stream();
  void make_wisp_stream_wait();

  int rank_, size_, device_;
  ncclComm* comm_ = nullptr;
  CUstream_st* stream_ = nullptr;          // the communicator's own non-blocking stream
  CUstream_st* wisp_stream_ = nullptr;     // wisp's stream of device_ (not owned)
  CUevent_st* wisp_ready_ = nullptr;       // recorded on wisp_stream_ before a collective
  CUevent_st* collective_done_ = nullptr;  // recorded on stream_ after a collective
};

}  // namespace wisp::distributed::cuda
