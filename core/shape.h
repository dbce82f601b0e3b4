// The sizes of a tensor's dimensions.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

namespace wisp {

// A list of dimension sizes, outermost first: Shape{20, 10} is 20 rows of 10 columns. An empty
// Shape{} is a scalar (one element). Prints as "[20, 10]".
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}  // NOLINT: implicit by design

  size_t size() const { return dims_.size(); }  // number of dimensions
  bool empty() const { return dims_.empty(); }
  int64_t operator[](size_t i) const { return dims_[i]; }
  int64_t& operator[](size_t i) { return dims_[i]; }
  int64_t back() const { return dims_.back(); }
  void push_back(int64_t d) { dims_.push_back(d); }
  std::vector<int64_t>::const_iterator begin() const { return dims_.begin(); }
  std::vector<int64_t>::const_iterator end() const { return dims_.end(); }
  const std::vector<int64_t>& dims() const { return dims_; }

  int64_t numel() const;  // product of the sizes (1 for a scalar)
  std::string str() const;

  friend bool operator==(const Shape& a, const Shape& b) { return a.dims_ == b.dims_; }
  friend bool operator!=(const Shape& a, const Shape& b) { return a.dims_ != b.dims_; }

 private:
  std::vector<int64_t> dims_;
};

std::ostream& operator<<(std::ostream& stream, const Shape& shape);

// The number of elements of a shape to create: throws, naming `context`, unless every size is
// non-negative; numel() throws when the product overflows int64.
int64_t element_count(const Shape& shape, const char* context);

// Maps a possibly negative dimension index (-1 = last) into [0, rank); throws when out of range.
// `context` names the op in the error message.
int64_t normalize_dim(int64_t dim, int64_t rank, const char* context);

// The shape two operands broadcast to, by PyTorch's rules (align trailing dimensions; each pair
// must be equal or contain a 1). Throws naming both shapes when they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* context);

}  // namespace wisp
