#include "core/dtype.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>

namespace wisp {

size_t element_size(DType dtype) {
  switch (dtype) {
    case DType::Float32: return 4;
    case DType::Int64: return 8;
    case DType::Int32: return 4;
    case DType::UInt8: return 1;
  }
  WISP_FAIL("element_size: unknown dtype code ", static_cast<int>(dtype));
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Int64: return "int64";
    case DType::Int32: return "int32";
    case DType::UInt8: return "uint8";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& stream, DType dtype) { return stream << dtype_name(dtype); }

namespace {
// The range of an integer dtype as doubles: [lowest, above) (int64's largest is not a double).
void integer_range(DType dtype, double& lowest, double& above) {
  switch (dtype) {
    case DType::Int64: lowest = -9223372036854775808.0; above = 9223372036854775808.0; return;
    case DType::Int32: lowest = -2147483648.0; above = 2147483648.0; return;
    case DType::UInt8: lowest = 0.0; above = 256.0; return;
    case DType::Float32: break;
  }
  lowest = -INFINITY;
  above = INFINITY;
}
}  // namespace

bool holds_value(DType dtype, double value) {
  if (is_floating_point(dtype)) return !std::isfinite(value) || std::fabs(value) <= FLT_MAX;
  double lowest = 0, above = 0;
  integer_range(dtype, lowest, above);
  return std::isfinite(value) && value == std::trunc(value) && value >= lowest && value < above;
}

bool holds_integer(DType dtype, int64_t value) {
  switch (dtype) {
    case DType::Int32: return value >= INT32_MIN && value <= INT32_MAX;
    case DType::UInt8: return value >= 0 && value <= UINT8_MAX;
    case DType::Int64:
    case DType::Float32: return true;
  }
  return false;
}

namespace {
// "[lowest, highest]" of an integer dtype.
std::string integer_range_text(DType dtype) {
  switch (dtype) {
    case DType::Int64: return "[-9223372036854775808, 9223372036854775807]";
    case DType::Int32: return "[-2147483648, 2147483647]";
    case DType::UInt8: return "[0, 255]";
    case DType::Float32: break;
  }
  return "";
}
}  // namespace

void check_holds_value(const char* op, const char* what, DType dtype, double value) {
  if (holds_value(dtype, value)) return;
  if (is_floating_point(dtype)) WISP_FAIL(op, ": ", what, " ", value, " cannot be converted to ", dtype, " without overflow");
  WISP_FAIL(op, ": ", what, " ", value, " cannot be converted to ", dtype, " exactly (expected a whole number in ",
            integer_range_text(dtype), ")");
}

void check_holds_integer(const char* op, const char* what, DType dtype, int64_t value) {
  WISP_CHECK(holds_integer(dtype, value), op, ": ", what, " ", value, " cannot be converted to ", dtype,
             " (expected a number in ", integer_range_text(dtype), ")");
}

}  // namespace wisp
