#include "wisp/layers/sequential.h"

#include <exception>
#include <new>

namespace wisp::nn {

void Sequential::append(std::shared_ptr<Module> module) { register_module(std::to_string(size()), std::move(module)); }

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& [child_name, child] : named_children()) {
    try {
      x = child->forward(x);
    } catch (const std::bad_alloc&) {
      throw;  // out of memory: adding context would allocate
    } catch (const std::exception& error) {
      // Which layer failed, in front of the original message (kept whole).
      throw Error(detail::concat("in layer ", child_name, " (", child->name(), "): ", error.what()));
    }
  }
  return x;
}

std::shared_ptr<Module> Sequential::operator[](int64_t index) const {
  const int64_t count = static_cast<int64_t>(size());
  WISP_CHECK(index >= -count && index < count, "Sequential: index ", index, " out of range for ", count, " modules");
  return named_children()[static_cast<size_t>(index < 0 ? index + count : index)].second;
}

void Sequential::wrong_type(int64_t index, const Module& module, const char* requested) const {
  WISP_FAIL("Sequential::at<", demangle(requested), ">(", index, "): module ", index, " is a ", module.name());
}

}  // namespace wisp::nn
