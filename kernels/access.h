// Raw access to tensors and index dtypes for the CPU and CUDA twins (the dispatch points have
// checked dtypes, shapes and devices). Host code only.
#pragma once

#include "wisp/core/tensor.h"
#include "wisp/kernels/bfloat16_math.h"

namespace wisp::kernels {

template <class T>
const T* pointer(const Tensor& t) {
  return static_cast<const T*>(t.raw_data());
}
template <class T>
T* mutable_pointer(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}

// Calls function(TypeTag<Index>) for an index dtype: UInt16, Int32 or Int64 (a SparseStructure's).
template <class Function>
void visit_index(DType dtype, Function&& function) {
  switch (dtype) {
    case DType::UInt16:
      function(TypeTag<uint16_t>{});
      return;
    case DType::Int32:
      function(TypeTag<int32_t>{});
      return;
    case DType::Int64:
      function(TypeTag<int64_t>{});
      return;
    default:
      WISP_FAIL("visit_index: expected an index dtype (uint16, int32 or int64) but got ", dtype);
  }
}

// Calls function(TypeTag<Element>) for the element type the sparse kernels read values and
// activations in: float for Float32, BFloat16 (kernels/bfloat16_math.h) for BFloat16.
template <class Function>
void visit_float_element(DType dtype, Function&& function) {
  if (dtype == DType::BFloat16) {
    function(TypeTag<BFloat16>{});
  } else {
    WISP_CHECK(dtype == DType::Float32, "visit_float_element: expected float32 or bfloat16 but got ", dtype);
    function(TypeTag<float>{});
  }
}

// Calls function(TypeTag<Pointer>, TypeTag<Feature>) for a SparseStructure's pointer dtype (Int32
// or Int64) and one of its feature-index dtypes (column_indices' or row_indices'), which is UInt16
// or the pointers' own dtype (SparseIndexDTypes::smallest). Four instantiations rather than the six
// of two nested visit_index calls: the kernels it serves are large.
template <class Function>
void visit_pointer_and_feature_index(DType pointers, DType features, Function&& function) {
  WISP_CHECK(pointers == DType::Int32 || pointers == DType::Int64,
             "visit_pointer_and_feature_index: expected int32 or int64 pointers but got ", pointers);
  WISP_CHECK(features == DType::UInt16 || features == pointers,
             "visit_pointer_and_feature_index: expected uint16 feature indices or the pointers' dtype ", pointers,
             " but got ", features);
  if (pointers == DType::Int32) {
    if (features == DType::UInt16) function(TypeTag<int32_t>{}, TypeTag<uint16_t>{});
    else function(TypeTag<int32_t>{}, TypeTag<int32_t>{});
  } else {
    if (features == DType::UInt16) function(TypeTag<int64_t>{}, TypeTag<uint16_t>{});
    else function(TypeTag<int64_t>{}, TypeTag<int64_t>{});
  }
}

}  // namespace wisp::kernels
