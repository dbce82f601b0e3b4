// Datasets: indexed collections of samples that assemble batches on request.
//
// A Dataset hands out whole batches (not single samples) so that an implementation can gather
// and convert many samples in one pass; DataLoader decides which indices go into each batch.
#pragma once

#include <cstdint>
#include <vector>

#include "wisp/core/tensor.h"

namespace wisp::data {

// One batch of samples: `data` [B, ...] (CPU; Float32 for MnistDataset, the tensor's own dtype for
// TensorDataset) and `target` Int64 [B] (CPU), where B is the number of indices asked for, in the
// order asked for.
struct Batch {
  Tensor data;
  Tensor target;
};

// The interface DataLoader consumes. Implementations must not change size() over their lifetime.
//
// Thread-safety: DataLoader calls get_batch() on a background thread (prefetching) while the
// consumer's thread may call any const member, so const members must be safe to call concurrently
// and must not rely on thread-local state (the autograd tape, NoGradGuard): build batches with
// plain loops or non-differentiable ops on tensors that do not require gradients.
class Dataset {
 public:
  virtual ~Dataset() = default;

  // Number of samples; indices run over [0, size()).
  virtual int64_t size() const = 0;

  // The samples at `indices` (each in [0, size()), repeats allowed) stacked along a new first
  // dimension, in the order given. Throws wisp::Error naming the index when one is out of range.
  // `indices` may be empty (a sharded DataLoader's part of a batch with fewer samples than shards):
  // then data and target have first dimension 0 and data keeps its per-sample shape.
  virtual Batch get_batch(const std::vector<int64_t>& indices) const = 0;
};

// A dataset over two in-memory tensors whose first dimension indexes samples, like PyTorch's
// TensorDataset: sample i is (data[i], target[i]). `data` may have any dtype and shape [N, ...];
// `target` must be Int64 [N]; both must be on the CPU. get_batch copies the selected rows into
// new tensors: data [B, ...] with data's dtype, target Int64 [B]. The tensors are shared with the
// caller (not copied at construction), so modifying them changes later batches, but only between
// epochs: while a prefetching DataLoader iterates, its worker is already reading the next batch, and
// a write then would race with it (see data/dataloader.h).
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor data, Tensor target);

  int64_t size() const override { return size_; }
  Batch get_batch(const std::vector<int64_t>& indices) const override;

  const Tensor& data() const { return data_; }
  const Tensor& target() const { return target_; }

 private:
  Tensor data_, target_;
  int64_t size_ = 0;
};

// Throws wisp::Error (naming `context`) unless every index lies in [0, size).
void check_indices(const char* context, const std::vector<int64_t>& indices, int64_t size);

}  // namespace wisp::data
