#include "wisp/layers/module_list.h"

namespace wisp::nn {

void ModuleList::add(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), module);
  modules_.push_back(std::move(module));
}

std::shared_ptr<Module> ModuleList::operator[](int64_t index) const {
  const auto count = static_cast<int64_t>(size());
  WISP_CHECK(index >= -count && index < count, "ModuleList: index ", index, " out of range for ", count, " modules");
  return modules_[static_cast<size_t>(index < 0 ? index + count : index)];
}

void ModuleList::wrong_type(int64_t index, const Module& module, const char* requested) const {
  WISP_FAIL("ModuleList::at<", demangle(requested), ">(", index, "): module ", index, " is a ", module.name());
}

}  // namespace wisp::nn
