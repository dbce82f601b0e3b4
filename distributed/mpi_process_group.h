// The MPI backend of distributed::ProcessGroup (process_group.h), for the files of distributed/
// only: users reach it through default_group(). Includes no MPI header.
#pragma once
#include <memory>
#include "wisp/distributed/process_group.h"

namespace wisp::distributed {

// Checks what all_reduce accepts (float32, int32 or int64; mean on float32 only).
void check_collective_tensor(const Tensor& tensor, ReduceOp op);

// The group of MPI_COMM_WORLD: initialises MPI (MPI_THREAD_FUNNELED: only the thread that calls the
// collectives calls MPI) unless the program already did, and finalises it when destroyed if it
// initialised it. Defined only in builds with MPI (WISP_WITH_MPI).
std::unique_ptr<ProcessGroup> make_mpi_process_group();

}  // namespace wisp::distributed
