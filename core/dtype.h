// Element types of a Tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <type_traits>

#include "wisp/core/error.h"

namespace wisp {

// Float32 holds values and gradients; Int64 holds labels and indices as users see them; Int32,
// UInt16 and UInt8 are used where they save bandwidth (CSR indices, the 16-bit column and row indices
// of sparse layers up to 65536 wide, raw images, comparison results). BFloat16 is storage only: the
// reduced-precision copies the sparse kernels read (nn::SparseLinearOptions::compute_dtype); it
// converts to and from Float32 (Tensor::to) and prints, and the generic kernels refuse it.
enum class DType : uint8_t { Float32, Int64, Int32, UInt8, UInt16, BFloat16 };

size_t element_size(DType dtype);
const char* dtype_name(DType dtype);  // "float32", "int64", "int32", "uint8", "uint16", "bfloat16"
std::ostream& operator<<(std::ostream& stream, DType dtype);
inline bool is_floating_point(DType dtype) { return dtype == DType::Float32 || dtype == DType::BFloat16; }

// Whether `value` can be stored as `dtype` without changing it beyond rounding: for the integer
// dtypes a whole number within the type's range; for Float32 any value whose magnitude does not
// exceed float's largest (infinities and NaN included).
bool holds_value(DType dtype, double value);
// The same for an integer, exactly (also where a double would round it): within the range of an
// integer dtype; always for Float32 (rounded).
bool holds_integer(DType dtype, int64_t value);
// Throw unless holds_value / holds_integer, naming op and what the value is ("value", "start").
void check_holds_value(const char* op, const char* what, DType dtype, double value);
void check_holds_integer(const char* op, const char* what, DType dtype, int64_t value);

template <class T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::Float32;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::Int64;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::Int32;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::UInt8;
};
template <>
struct DTypeOf<uint16_t> {
  static constexpr DType value = DType::UInt16;
};

// dtype_of<float>() == DType::Float32; fails to compile for types wisp does not store.
template <class T>
constexpr DType dtype_of() {
  return DTypeOf<std::remove_cv_t<T>>::value;
}

template <class T>
struct TypeTag {
  using type = T;
};

// Calls function(TypeTag<T>{}) with the C++ type T of `dtype`:
//   visit_dtype(t.dtype(), [&](auto tag) { using T = typename decltype(tag)::type; ... });
// BFloat16 has no C++ arithmetic type here: it throws (code that handles it checks for it first).
template <class Function>
decltype(auto) visit_dtype(DType dtype, Function&& function) {
  switch (dtype) {
    case DType::Float32:
      return function(TypeTag<float>{});
    case DType::Int64:
      return function(TypeTag<int64_t>{});
    case DType::Int32:
      return function(TypeTag<int32_t>{});
    case DType::UInt8:
      return function(TypeTag<uint8_t>{});
    case DType::UInt16:
      return function(TypeTag<uint16_t>{});
    case DType::BFloat16:
      WISP_FAIL(
          "bfloat16 tensors hold the reduced-precision copies the sparse kernels read; convert them with "
          ".to(DType::Float32) for anything else");
  }
  WISP_FAIL("visit_dtype: unknown dtype code ", static_cast<int>(dtype));
}

}  // namespace wisp
