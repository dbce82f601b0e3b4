// wisp::Error and the checks that throw it.
//
// Every failure a user can cause (bad shapes, wrong dtype, mixed devices, malformed files) is a
// wisp::Error whose message states what was expected and what was found. Library code never
// exits or aborts; only apps/ turn exceptions into exit codes.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace wisp {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream stream;
  (stream << ... << parts);
  return stream.str();
}
}  // namespace detail

}  // namespace wisp

// WISP_CHECK(condition, "expected ", a, " got ", b): throws wisp::Error with the concatenated
// message when the condition is false. The message parts are only formatted on failure.
#define WISP_CHECK(condition, ...)                                                                                     \
  do {                                                                                                                 \
    if (!(condition)) throw ::wisp::Error(::wisp::detail::concat(__VA_ARGS__));                                        \
  } while (0)

// WISP_FAIL("message ", parts...): throws wisp::Error unconditionally.
#define WISP_FAIL(...) throw ::wisp::Error(::wisp::detail::concat(__VA_ARGS__))
