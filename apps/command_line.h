// Checks for the apps' numeric options, with messages that say what was expected. CLI11's own
// conversions wrap "-1" into an unsigned option, saturate values beyond the option's type, and let
// NaN through NonNegativeNumber and Range; its PositiveNumber message reads "Value 0 not in range
// 0.000000 to 1.797693e+308". These read the text themselves.
#pragma once

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

namespace wisp::apps {

// A whole number from `lowest` to `highest`, in decimal digits (with a leading '-' only for
// negative values).
inline CLI::Validator whole_number(int64_t lowest, uint64_t highest) {
  std::ostringstream range;
  range << lowest << " to " << highest;
  const std::string expected = "expected a whole number from " + range.str();
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        const bool negative = !text.empty() && text[0] == '-';
        const size_t first_digit = negative ? 1 : 0;
        if (text.size() == first_digit || text.find_first_not_of("0123456789", first_digit) != std::string::npos)
          return expected + " but got '" + text + "'";
        errno = 0;
        bool inside = false;
        if (negative) {
          const long long value = std::strtoll(text.c_str(), nullptr, 10);
          inside = errno != ERANGE && value >= lowest;
        } else {
          const unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
          inside = errno != ERANGE && value <= highest && (lowest <= 0 || value >= static_cast<uint64_t>(lowest));
        }
        return inside ? std::string() : expected + " but got " + text;
      },
      "[" + std::to_string(lowest) + ", " + std::to_string(highest) + "]");
}

// A finite number from `lowest` to `highest` (no upper bound when `highest` is infinite).
inline CLI::Validator finite_number(double lowest, double highest = INFINITY) {
  std::ostringstream range;
  if (std::isinf(highest)) range << ">= " << lowest;
  else range << "from " << lowest << " to " << highest;
  const std::string expected = "expected a finite number " + range.str();
  std::ostringstream description;
  description << "[" << lowest << ", " << (std::isinf(highest) ? "inf)" : "");
  if (!std::isinf(highest)) description << highest << "]";
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0') return expected + " but got '" + text + "'";
        return std::isfinite(value) && value >= lowest && value <= highest ? std::string()
                                                                           : expected + " but got " + text;
      },
      description.str());
}

}  // namespace wisp::apps
