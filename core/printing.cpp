// std::cout << tensor, in PyTorch's format:
//   tensor([[1., 2., 3.],
//           [4., 5., 6.]])
//   tensor([ 0.1940,  2.1614, -0.1721], requires_grad=True)
// Floats print as integers with a trailing "." when all are whole, in fixed point with 4 decimals
// when their magnitudes are moderate, and in scientific notation otherwise. Tensors with more
// than 1000 elements are summarised (the first and last 3 entries of each dimension).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include "wisp/core/tensor.h"

namespace wisp {
namespace {

constexpr int64_t kSummariseAbove = 1000;
constexpr int64_t kEdgeItems = 3;
constexpr size_t kLineWidth = 80;

enum class FloatStyle { Integer, Fixed, Scientific };

// One element as read: integers exactly (an int64 beyond 2^53 does not survive a double), floats
// as double.
struct Element {
  double real = 0;
  int64_t integer = 0;
};

struct Formatter {
  DType dtype;
  FloatStyle style = FloatStyle::Fixed;
  size_t width = 1;

  std::string format(const Element& element) const {
    char buffer[64];
    const double value = element.real;
    if (dtype != DType::Float32) {
      std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(element.integer));
    } else if (std::isnan(value)) {
      std::snprintf(buffer, sizeof buffer, "nan");
    } else if (std::isinf(value)) {
      std::snprintf(buffer, sizeof buffer, value > 0 ? "inf" : "-inf");
    } else if (style == FloatStyle::Integer) {
      std::snprintf(buffer, sizeof buffer, "%.0f.", value);
    } else if (style == FloatStyle::Fixed) {
      std::snprintf(buffer, sizeof buffer, "%.4f", value);
    } else {
      std::snprintf(buffer, sizeof buffer, "%.4e", value);
    }
    return buffer;
  }
  std::string padded(const Element& element) const {
    std::string text = format(element);
    return std::string(width > text.size() ? width - text.size() : 0, ' ') + text;
  }
};

// Reads element `flat` of a CPU tensor.
Element element(const Tensor& tensor, int64_t flat) {
  return visit_dtype(tensor.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T value = static_cast<const T*>(tensor.raw_data())[flat];
    Element result;
    result.real = static_cast<double>(value);
    if constexpr (std::is_integral_v<T>) result.integer = static_cast<int64_t>(value);
    return result;
  });
}

// Indices of dimension `size` that are printed (all, or the edges when summarising); -1 marks "...".
std::vector<int64_t> shown_indices(int64_t size, bool summarise) {
  std::vector<int64_t> indices;
  if (summarise && size > 2 * kEdgeItems) {
    for (int64_t i = 0; i < kEdgeItems; ++i) indices.push_back(i);
    indices.push_back(-1);
    for (int64_t i = size - kEdgeItems; i < size; ++i) indices.push_back(i);
  } else {
    for (int64_t i = 0; i < size; ++i) indices.push_back(i);
  }
  return indices;
}

void collect(const Tensor& tensor, size_t dim, int64_t base, bool summarise, std::vector<Element>& values) {
  const Shape& shape = tensor.shape();
  int64_t stride = 1;
  for (size_t d = dim + 1; d < shape.size(); ++d) stride *= shape[d];
  for (int64_t i : shown_indices(shape[dim], summarise)) {
    if (i < 0) continue;
    if (dim + 1 == shape.size()) {
      values.push_back(element(tensor, base + i));
    } else {
      collect(tensor, dim + 1, base + i * stride, summarise, values);
    }
  }
}

Formatter make_formatter(const Tensor& tensor, const std::vector<Element>& values) {
  Formatter formatter{tensor.dtype()};
  if (tensor.dtype() == DType::Float32) {
    bool all_whole = true;
    double largest = 0, smallest = INFINITY;
    for (const Element& element : values) {
      const double v = element.real;
      if (!std::isfinite(v)) continue;
      if (v != std::nearbyint(v)) all_whole = false;
      const double magnitude = std::fabs(v);
      if (magnitude == 0) continue;
      largest = std::max(largest, magnitude);
      smallest = std::min(smallest, magnitude);
    }
    // PyTorch's rules: scientific for a range above 1000 or a value above 1e8, whole numbers or not
    // (its int_mode), and for a value below 1e-4 when not all are whole.
    const bool wide = largest > 0 && (largest / smallest > 1000 || largest > 1e8);
    if (all_whole) {
      formatter.style = wide ? FloatStyle::Scientific : FloatStyle::Integer;
    } else if (wide || (largest > 0 && smallest < 1e-4)) {
      formatter.style = FloatStyle::Scientific;
    }
  }
  for (const Element& element : values) formatter.width = std::max(formatter.width, formatter.format(element).size());
  return formatter;
}

void print_dim(std::ostream& out, const Tensor& tensor, size_t dim, int64_t base, size_t indent, bool summarise,
               const Formatter& formatter) {
  const Shape& shape = tensor.shape();
  out << "[";
  const std::vector<int64_t> indices = shown_indices(shape[dim], summarise);
  if (dim + 1 == shape.size()) {
    // Innermost dimension: wrap at the line width like PyTorch.
    const size_t per_line = std::max<size_t>(1, (kLineWidth - indent) / (formatter.width + 2));
    size_t on_line = 0;
    for (size_t k = 0; k < indices.size(); ++k) {
      if (k > 0) {
        out << ",";
        if (on_line == per_line) {
          out << "\n" << std::string(indent + 1, ' ');
          on_line = 0;
        } else {
          out << " ";
        }
      }
      if (indices[k] < 0) {
        out << " ...";  // PyTorch's marker inside a row
      } else {
        out << formatter.padded(element(tensor, base + indices[k]));
      }
      ++on_line;
    }
  } else {
    int64_t stride = 1;
    for (size_t d = dim + 1; d < shape.size(); ++d) stride *= shape[d];
    const std::string separator = ",\n" + std::string(shape.size() - dim - 2, '\n') + std::string(indent + 1, ' ');
    for (size_t k = 0; k < indices.size(); ++k) {
      if (k > 0) out << separator;
      if (indices[k] < 0) {
        out << "...";
      } else {
        print_dim(out, tensor, dim + 1, base + indices[k] * stride, indent + 1, summarise, formatter);
      }
    }
  }
  out << "]";
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const Tensor& tensor) {
  if (!tensor.defined()) return out << "tensor(undefined)";
  Tensor host = tensor.is_cpu() ? tensor : copy_to_device(tensor, Device::cpu());
  if (host.dtype() == DType::BFloat16) host = host.to(DType::Float32);  // exact: printed as its float values
  const std::string prefix = "tensor(";
  if (host.numel() == 0) {
    out << prefix << "[]";
    if (host.dim() != 1) out << ", size=" << host.shape();
  } else if (host.dim() == 0) {
    std::vector<Element> values{element(host, 0)};
    out << prefix << make_formatter(host, values).format(values[0]);
  } else {
    const bool summarise = host.numel() > kSummariseAbove;
    std::vector<Element> values;
    collect(host, 0, 0, summarise, values);
    const Formatter formatter = make_formatter(host, values);
    out << prefix;
    print_dim(out, host, 0, 0, prefix.size(), summarise, formatter);
  }
  if (tensor.dtype() != DType::Float32 && tensor.dtype() != DType::Int64) out << ", dtype=" << tensor.dtype();
  if (tensor.is_cuda()) out << ", device='" << tensor.device() << "'";
  if (!tensor.is_leaf()) {
    out << ", grad_fn=<" << tensor.grad_fn_name() << ">";
  } else if (tensor.requires_grad()) {
    out << ", requires_grad=True";
  }
  return out << ")";
}

}  // namespace wisp
