// distributed::ProcessGroup: the processes of one training job and the collectives between them.
//
//   distributed::ProcessGroup& group = distributed::default_group();  // MPI under mpirun, else one process
//   group.all_reduce(tensor, distributed::ReduceOp::Mean);              // in place, on every rank
//
// Backends: "single" (one process; every collective is a copy or nothing) and "mpi" (Open MPI, for
// CPU tensors; CUDA tensors go through NCCL on its own stream when the build has NCCL, its
// communicator set up with a unique id broadcast over MPI). default_group() picks "mpi" when the
// process was started by an MPI launcher (mpirun sets OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK)
// and the build has MPI, and "single" otherwise, so code written for N processes runs unchanged
// with one.
//
// Every collective must be called by every rank of the group, in the same order, with the same
// dtypes and sizes (as in MPI). Each is numbered (collectives()), and waits at most timeout()
// seconds: a collective that has not completed by then prints which collective it was, and which
// ranks had not arrived at it, then aborts the whole job (MPI_Abort), since a job with one rank
// missing cannot continue and its peers would otherwise wait forever. A rank that leaves the job
// (its group destroyed at exit) tells rank 0 how many collectives it called, so that rank 0, waiting
// in a later one, aborts at once naming the mismatch instead of waiting for the timeout. In debug mode every collective
// first compares its kind, dtype and size across the ranks and throws wisp::Error, on every rank,
// naming the first rank that differs.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include "wisp/core/tensor.h"

namespace wisp::distributed {

enum class ReduceOp { Sum, Mean, Max, Min };
const char* to_string(ReduceOp op);  // "sum", "mean", "max", "min"

// The timeout of collectives, in seconds: WISP_DISTRIBUTED_TIMEOUT when set (a number > 0), else 300.
// Throws wisp::Error when the variable is set to something else.
double default_timeout_seconds();
// Debug mode by default: WISP_DISTRIBUTED_DEBUG set to 1 (or "true"); off when unset or 0.
bool default_debug();

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // "single" or "mpi".
  virtual std::string backend() const = 0;

  // Combines `tensor` (float32, int32 or int64; any shape; the same on every rank) element-wise
  // across the ranks, in place. Mean divides the sum by size() (float32 only). The order of the sum
  // is fixed by the backend, not by timing, so equal inputs give equal results run after run.
  virtual void all_reduce(Tensor& tensor, ReduceOp op = ReduceOp::Sum) = 0;
  // Gives every rank the values of `tensor` on rank `root`, in place (same dtype and shape on every
  // rank; any dtype).
  virtual void broadcast(Tensor& tensor, int root = 0) = 0;
  // The tensors of all ranks, concatenated along dimension 0 in rank order: the first dimension may
  // differ between ranks, the others and the dtype may not. A 0-d tensor counts as [1].
  virtual Tensor all_gather(const Tensor& tensor) = 0;
  // Returns when every rank has called it.
  virtual void barrier() = 0;
  // Ends every process of the job with `exit_code` (MPI_Abort; one process: std::exit), for a
  // program that cannot go on after an error on one rank: its peers would otherwise wait in their
  // next collective until the timeout.
  [[noreturn]] virtual void abort_job(int exit_code) = 0;

  // Rank `root`'s bytes on every rank (the others' `bytes` are ignored; their sizes may differ).
  std::string broadcast_bytes(const std::string& bytes, int root = 0);

  // Collectives called so far on this rank (broadcast_bytes counts its collectives).
  uint64_t collectives() const { return collectives_; }
  double timeout() const { return timeout_seconds_; }
  // Throws wisp::Error unless seconds > 0.
  void set_timeout(double seconds);
  bool debug() const { return debug_; }
  void set_debug(bool on) { debug_ = on; }

 protected:
  ProcessGroup(int rank, int size);
  uint64_t next_collective() { return ++collectives_; }

 private:
  int rank_, size_;
  uint64_t collectives_ = 0;
  double timeout_seconds_;
  bool debug_;
};

// A group of one process: rank 0 of 1.
std::unique_ptr<ProcessGroup> make_single_process_group();
// Whether an MPI launcher started this process (its environment variables are set).
bool launched_by_mpi();
// Whether this build has the MPI backend (CMake found MPI; WISP_MPI).
bool mpi_available();
// The group of the whole job, created on first use and alive until the process exits (MPI is
// initialised then, and finalised at exit). Under an MPI launcher in a build without MPI it throws
// wisp::Error rather than run N copies of a one-process job.
ProcessGroup& default_group();

}  // namespace wisp::distributed
