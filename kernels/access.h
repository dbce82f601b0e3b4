// Raw access to tensors and index dtypes for the CPU and CUDA twins (the dispatch points have
// checked dtypes, shapes and devices). Host code only.
#pragma once

#include "wisp/core/tensor.h"

namespace wisp::kernels {

template <class T>
const T* pointer(const Tensor& t) {
  return static_cast<const T*>(t.raw_data());
}
template <class T>
T* mutable_pointer(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}

// Calls function(TypeTag<Index>) for an index dtype: Int32, or Int64 otherwise (a SparseStructure's).
template <class Function>
void visit_index(DType dtype, Function&& function) {
  if (dtype == DType::Int32) {
    function(TypeTag<int32_t>{});
  } else {
    function(TypeTag<int64_t>{});
  }
}

}  // namespace wisp::kernels
