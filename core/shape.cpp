#include "wisp/core/shape.h"

#include <algorithm>
#include <ostream>
#include <sstream>

#include "wisp/core/error.h"

namespace wisp {

int64_t Shape::numel() const {
  // A zero anywhere makes the product 0 even where the other sizes alone would overflow.
  if (std::find(dims_.begin(), dims_.end(), 0) != dims_.end()) return 0;
  int64_t n = 1;
  for (int64_t d : dims_)
    WISP_CHECK(!__builtin_mul_overflow(n, d, &n), "shape ", *this, " has more elements than int64 can count");
  return n;
}

std::string Shape::str() const {
  std::ostringstream stream;
  stream << "[";
  for (size_t i = 0; i < dims_.size(); ++i) stream << (i ? ", " : "") << dims_[i];
  stream << "]";
  return stream.str();
}

std::ostream& operator<<(std::ostream& stream, const Shape& shape) { return stream << shape.str(); }

int64_t element_count(const Shape& shape, const char* context) {
  for (int64_t d : shape) WISP_CHECK(d >= 0, context, ": expected non-negative sizes but got shape ", shape);
  return shape.numel();
}

int64_t normalize_dim(int64_t dim, int64_t rank, const char* context) {
  const int64_t lowest = rank == 0 ? -1 : -rank;
  const int64_t highest = rank == 0 ? 0 : rank - 1;
  WISP_CHECK(dim >= lowest && dim <= highest, context, ": dimension out of range (expected to be in range of [", lowest,
             ", ", highest, "], but got ", dim, ")");
  return dim < 0 ? dim + std::max<int64_t>(rank, 1) : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* context) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    WISP_CHECK(da == db || da == 1 || db == 1, context, ": shapes ", a, " and ", b,
               " cannot be broadcast together (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return Shape(out);
}

}  // namespace wisp
