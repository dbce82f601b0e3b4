#include "wisp/data/dataset.h"

#include <cstring>

namespace wisp::data {

void check_indices(const char* context, const std::vector<int64_t>& indices, int64_t size) {
  for (size_t i = 0; i < indices.size(); ++i)
    WISP_CHECK(indices[i] >= 0 && indices[i] < size, context, ": sample index ", indices[i], " (position ", i,
               " of the batch) is out of range [0, ", size, ")");
}

TensorDataset::TensorDataset(Tensor data, Tensor target) : data_(std::move(data)), target_(std::move(target)) {
  WISP_CHECK(data_.defined() && target_.defined(), "TensorDataset: expected defined data and target tensors");
  WISP_CHECK(data_.dim() >= 1, "TensorDataset: expected data of shape [N, ...] but got a 0-d tensor");
  WISP_CHECK(target_.dim() == 1 && target_.dtype() == DType::Int64,
             "TensorDataset: expected an Int64 target of shape [N] but got ", target_.dtype(), " of shape ",
             target_.shape());
  WISP_CHECK(data_.size(0) == target_.size(0), "TensorDataset: expected as many targets as samples but data has ",
             data_.size(0), " samples (shape ", data_.shape(), ") and target has ", target_.size(0));
  WISP_CHECK(data_.is_cpu() && target_.is_cpu(), "TensorDataset: expected CPU tensors but got data on ", data_.device(),
             " and target on ", target_.device());
  size_ = data_.size(0);
}

Batch TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  check_indices("TensorDataset::get_batch", indices, size_);
  const auto batch_size = static_cast<int64_t>(indices.size());
  Shape data_shape = data_.shape();
  data_shape[0] = batch_size;
  Batch batch{empty(data_shape, data_.dtype()), empty({batch_size}, DType::Int64)};
  // Rows are contiguous runs of bytes whatever the dtype: copy them whole.
  const size_t row_bytes = size_ == 0 ? 0 : data_.nbytes() / static_cast<size_t>(size_);
  const auto* source = static_cast<const uint8_t*>(data_.raw_data());
  auto* destination = static_cast<uint8_t*>(batch.data.raw_data());
  const int64_t* source_target = target_.data<int64_t>();
  int64_t* destination_target = batch.target.data<int64_t>();
  for (int64_t i = 0; i < batch_size; ++i) {
    const auto row = static_cast<size_t>(indices[static_cast<size_t>(i)]);
    if (row_bytes > 0)
      std::memcpy(destination + static_cast<size_t>(i) * row_bytes, source + row * row_bytes, row_bytes);
    destination_target[i] = source_target[row];
  }
  return batch;
}

}  // namespace wisp::data
