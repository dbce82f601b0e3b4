#include "wisp/core/dtype.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <ostream>

namespace wisp {

size_t element_size(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return 4;
    case DType::Int64:
      return 8;
    case DType::Int32:
      return 4;
    case DType::UInt8:
      return 1;
    case DType::UInt16:
    case DType::BFloat16:
      return 2;
  }
  WISP_FAIL("element_size: unknown dtype code ", static_cast<int>(dtype));
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "float32";
    case DType::Int64:
      return "int64";
    case DType::Int32:
      return "int32";
    case DType::UInt8:
      return "uint8";
    case DType::UInt16:
      return "uint16";
    case DType::BFloat16:
      return "bfloat16";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& stream, DType dtype) { return stream << dtype_name(dtype); }

namespace {
// The smallest and largest value of an integer dtype (Float32: none; not asked for).
struct IntegerLimits {
  int64_t lowest, highest;
};
IntegerLimits integer_limits(DType dtype) {
  switch (dtype) {
    case DType::Int64:
      return {INT64_MIN, INT64_MAX};
    case DType::Int32:
      return {INT32_MIN, INT32_MAX};
    case DType::UInt8:
      return {0, UINT8_MAX};
    case DType::UInt16:
      return {0, UINT16_MAX};
    case DType::Float32:
    case DType::BFloat16:
      break;
  }
  WISP_FAIL("integer_limits: ", dtype, " is not an integer dtype");
}
}  // namespace

bool holds_value(DType dtype, double value) {
  if (is_floating_point(dtype)) return !std::isfinite(value) || std::fabs(value) <= FLT_MAX;
  const IntegerLimits limits = integer_limits(dtype);
  // highest + 1 as a double is exact for every integer dtype (int64's is 2^63), highest itself is
  // not for int64 (it rounds up to 2^63, which int64 cannot hold).
  return std::isfinite(value) && value == std::trunc(value) && value >= static_cast<double>(limits.lowest) &&
         value < static_cast<double>(limits.highest) + 1.0;
}

bool holds_integer(DType dtype, int64_t value) {
  if (is_floating_point(dtype)) return true;
  const IntegerLimits limits = integer_limits(dtype);
  return value >= limits.lowest && value <= limits.highest;
}

void check_holds_value(const char* op, const char* what, DType dtype, double value) {
  if (holds_value(dtype, value)) return;
  if (is_floating_point(dtype))
    WISP_FAIL(op, ": ", what, " ", value, " cannot be converted to ", dtype, " without overflow");
  const IntegerLimits limits = integer_limits(dtype);
  WISP_FAIL(op, ": ", what, " ", value, " cannot be converted to ", dtype, " exactly (expected a whole number in [",
            limits.lowest, ", ", limits.highest, "])");
}

void check_holds_integer(const char* op, const char* what, DType dtype, int64_t value) {
  if (holds_integer(dtype, value)) return;
  const IntegerLimits limits = integer_limits(dtype);
  WISP_FAIL(op, ": ", what, " ", value, " cannot be converted to ", dtype, " (expected a number in [", limits.lowest,
            ", ", limits.highest, "])");
}

}  // namespace wisp
