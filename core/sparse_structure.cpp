#include "wisp/core/sparse_structure.h"

namespace wisp {

SparseIndexDTypes SparseIndexDTypes::smallest(int64_t nnz, int64_t out_features, int64_t in_features) {
  const bool fits_int32 =
      nnz <= kMaxInt32IndexedSize && out_features <= kMaxInt32IndexedSize && in_features <= kMaxInt32IndexedSize;
  const DType pointers = fits_int32 ? DType::Int32 : DType::Int64;
  return {pointers, in_features <= kMaxUInt16IndexedFeatures ? DType::UInt16 : pointers,
          out_features <= kMaxUInt16IndexedFeatures ? DType::UInt16 : pointers};
}

size_t SparseStructure::nbytes() const {
  size_t total = 0;
  for (const Tensor* t : {&row_pointers, &column_indices, &column_pointers, &row_indices, &csc_to_value})
    if (t->defined()) total += t->nbytes();
  return total;
}

SparseStructure SparseStructure::to(Device device) const {
  // Tensor by tensor: a module may already have moved some of them (its registered buffers) in place.
  const auto moved_to = [device](const Tensor& t) {
    return !t.defined() || t.device() == device ? t : copy_to_device(t, device);
  };
  SparseStructure moved = *this;
  moved.row_pointers = moved_to(row_pointers);
  moved.column_indices = moved_to(column_indices);
  moved.column_pointers = moved_to(column_pointers);
  moved.row_indices = moved_to(row_indices);
  moved.csc_to_value = moved_to(csc_to_value);
  return moved;
}

}  // namespace wisp
