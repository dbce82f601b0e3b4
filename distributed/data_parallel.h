// distributed::DataParallel: data-parallel training of any nn::Module over the processes of a
// ProcessGroup, each process computing its shard of every global batch.
//
//   distributed::ProcessGroup& group = distributed::default_group();
//   auto model = make_model();                 // the same architecture on every rank
//   optim::SGD optimizer(model.parameters(), optim::SGDOptions(0.01).momentum(0.9));
//   distributed::DataParallel parallel(model, optimizer, group);   // every rank now equals rank 0
//   data::DataLoader loader(train, data::DataLoaderOptions().batch_size(64).shuffle(true).seed(1)
//                                      .num_shards(group.size()).shard(group.rank()));
//   for (const data::Batch& batch : loader) {
//     Tensor loss = cross_entropy(model(batch.data), batch.target);   // a mean over the local batch
//     loss.backward();
//     parallel.step(batch.data.size(0));       // gradients combined, then optimizer.step()
//     optimizer.zero_grad();
//   }
//
// What it keeps identical on every rank (docs/distributed.md has the details):
// * At construction: the model's structure is compared across ranks (names, dtypes and shapes of
//   every state tensor; a SparseLinear by its sizes), and a difference throws wisp::Error on every
//   rank naming the first one. Then rank 0's parameters, buffers, SparseLinear connections, RigL
//   counters, optimizer state and default generator replace every other rank's (a checkpoint's
//   bytes, serialization/checkpoint.h, broadcast), and the full fingerprint (with nnz and a hash of
//   each SparseLinear's connections) is compared again.
// * Gradients: step() and synchronize() average them over the samples of the global batch: each
//   rank's gradient of its local mean loss is weighted by its sample count, summed across ranks in
//   buckets of about bucket_bytes in the optimizer's parameter order (a fixed order: results do not
//   depend on timing), and divided by the global count, so that ranks with unequal shards (a global
//   batch not divisible by the ranks) give the gradient of the global batch's mean loss. A parameter
//   with a gradient on some ranks only gets zeros from the others; one with a gradient on none stays
//   without. A SparseLinear sends its [nnz] value gradient and its bias, never a dense matrix.
// * k-winners (nn::ActivationSparsity) duty cycles: averaged the same way, weighted by sample count,
//   at each synchronisation: exactly the duty cycles one process would have after the global batch.
// * RigL: on a step that grows by gradient, every rank's captured batch (the layer's input and
//   output gradient) is gathered, so that every rank grows from the global batch's dense gradient;
//   the rows are put back in the global batch's order (the data loader's interleaved shards). SET
//   draws from the layer's seed and the step, which every rank shares. After each step that updated
//   connections, a hash of every dynamic layer's connections is compared across ranks and a
//   difference throws wisp::Error.
// Gradient accumulation: call backward() several times, then step() once: nothing is communicated
// until step() (PyTorch's no_sync, by construction).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "wisp/core/arguments.h"
#include "wisp/distributed/process_group.h"
#include "wisp/layers/module.h"
#include "wisp/optim/optimizer.h"

namespace wisp::distributed {

struct DataParallelOptions {
  // The size of one all_reduce of gradients: larger buckets mean fewer collectives, smaller ones
  // less memory beside the gradients. PyTorch DDP's default.
  WISP_ARG(int64_t, bucket_bytes, int64_t{25} << 20);
};

// What the synchronisations cost so far, on this rank.
struct DataParallelStatistics {
  int64_t synchronizations = 0;
  int64_t collectives = 0;             // collectives called by synchronize() and the checks
  uint64_t bytes_reduced = 0;          // bytes this rank handed to all_reduce and all_gather
  uint64_t bytes_synchronized = 0;     // of those, in synchronize() (not the construction's broadcast)
  double communication_seconds = 0.0;  // wall time in synchronize() and the checks, packing included
  // The two parts of synchronize()'s time: the first, small all_reduce of each step (the census),
  // where a rank also waits for the slowest rank to finish its backward; and everything after it
  // (gradient buckets, RigL's gathers, packing), when all ranks have arrived: the communication.
  double waiting_seconds = 0.0;
  double exchange_seconds = 0.0;
};

class DataParallel {
 public:
  // Compares the structure, broadcasts rank 0's state and compares again (see above). `model` and
  // `optimizer` must outlive this object; the optimizer's parameters must be the model's.
  DataParallel(nn::Module& model, optim::Optimizer& optimizer, ProcessGroup& group = default_group(),
               DataParallelOptions options = {});

  // Combines the gradients, the k-winners duty cycles and RigL's captured batches across the ranks
  // (see above). Call it after backward() and before optimizer.step(), with this rank's number of
  // samples in the global batch (0 when its shard of the batch is empty: it then takes part with no
  // gradient). Every rank must call it. A caller that modifies the gradients in between (e.g.
  // clipping) calls synchronize(), then clips, then optimizer_step().
  void synchronize(int64_t local_samples);
  // The optimizer's step, then check_topology() when a RigL update ran in it.
  void optimizer_step();
  // synchronize(), then optimizer_step().
  void step(int64_t local_samples);
  // Compares every dynamic SparseLinear's connections across the ranks (a hash of each); throws
  // wisp::Error on every rank naming the first layer and rank that differ from rank 0.
  void check_topology();

  // The model's fingerprint: one line per state tensor ("1.weight float32 [10, 2000]") and per
  // SparseLinear ("1 SparseLinear 784x2000 nnz=156800 connections=<hash>").
  std::string fingerprint() const;

  ProcessGroup& group() const { return group_; }
  const DataParallelStatistics& statistics() const { return statistics_; }

 private:
  // The fingerprint without what the broadcast replaces (a SparseLinear's nnz and connections).
  std::string structure_fingerprint() const;
  // Throws on every rank when the ranks' texts differ, naming the first differing line.
  void compare_across_ranks(const std::string& text, const char* what);
  void broadcast_state();
  int64_t rigl_updates() const;

  nn::Module& model_;
  optim::Optimizer& optimizer_;
  ProcessGroup& group_;
  DataParallelOptions options_;
  DataParallelStatistics statistics_;
};

}  // namespace wisp::distributed
