// Helpers shared by the tests.
#pragma once

#include <catch2/catch.hpp>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <wisp/wisp.h>

namespace wisp::testing {

// REQUIRE that `function` passes autograd::check_gradients, printing the mismatches otherwise.
#define WISP_REQUIRE_GRADIENTS(function, inputs, ...)                                                                  \
  do {                                                                                                                 \
    const auto wisp_check_ = ::wisp::autograd::check_gradients(function, inputs, ##__VA_ARGS__);                       \
    INFO(wisp_check_.message);                                                                                         \
    REQUIRE(wisp_check_.checked_elements > 0);                                                                         \
    REQUIRE(wisp_check_.ok);                                                                                           \
  } while (0)

// REQUIRE that `expression` throws wisp::Error whose message contains every one of `parts`.
#define WISP_REQUIRE_ERROR(expression, ...)                                                                            \
  do {                                                                                                                 \
    bool wisp_threw_ = false;                                                                                          \
    try {                                                                                                              \
      (void)(expression);                                                                                              \
    } catch (const ::wisp::Error& wisp_error_) {                                                                       \
      wisp_threw_ = true;                                                                                              \
      const std::string wisp_message_ = wisp_error_.what();                                                            \
      for (const std::string& wisp_part_ : std::vector<std::string>{__VA_ARGS__}) {                                    \
        INFO("message: " << wisp_message_);                                                                            \
        CHECK(wisp_message_.find(wisp_part_) != std::string::npos);                                                    \
      }                                                                                                                \
    }                                                                                                                  \
    INFO("expected a wisp::Error from " #expression);                                                                  \
    REQUIRE(wisp_threw_);                                                                                              \
  } while (0)

// What `std::cout << value` prints.
template <class T>
std::string printed(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// Values of a float32 tensor as a vector (any device).
inline std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

// REQUIRE elementwise |a - b| <= tolerance and equal shapes.
inline void require_close(const Tensor& actual, const Tensor& expected, float tolerance = 1e-5f) {
  REQUIRE(actual.shape() == expected.shape());
  const std::vector<float> a = actual.to_vector<float>(), b = expected.to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i << ": " << a[i] << " vs " << b[i]);
    REQUIRE(std::abs(a[i] - b[i]) <= tolerance * (1.0f + std::abs(b[i])));
  }
}

// Sets (or, for nullptr, unsets) an environment variable for one scope.
class EnvironmentGuard {
 public:
  EnvironmentGuard(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~EnvironmentGuard() {
    if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  EnvironmentGuard(const EnvironmentGuard&) = delete;
  EnvironmentGuard& operator=(const EnvironmentGuard&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace wisp::testing
