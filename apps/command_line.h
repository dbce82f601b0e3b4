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
#include <utility>
#include <vector>

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

// A finite number > 0.
inline CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0') return "expected a finite number > 0 but got '" + text + "'";
        return std::isfinite(value) && value > 0 ? std::string() : "expected a finite number > 0 but got " + text;
      },
      "(0, inf)");
}

// One of `choices`, spelled exactly.
inline CLI::Validator one_of(const std::vector<std::string>& choices) {
  std::string list;
  for (const std::string& choice : choices) list += (list.empty() ? "" : ", ") + choice;
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        for (const std::string& choice : choices)
          if (text == choice) return std::string();
        return "expected one of " + list + " but got '" + text + "'";
      },
      "{" + list + "}");
}

// Reads "A,B", two finite numbers from `lowest` to `highest`, into `out`; false when `text` is not
// of that form.
inline bool parse_number_pair(const std::string& text, double lowest, double highest, std::pair<double, double>& out) {
  const size_t comma = text.find(',');
  if (comma == std::string::npos) return false;
  const std::string parts[2] = {text.substr(0, comma), text.substr(comma + 1)};
  double values[2];
  for (int i = 0; i < 2; ++i) {
    char* end = nullptr;
    values[i] = std::strtod(parts[i].c_str(), &end);
    if (parts[i].empty() || *end != '\0' || !std::isfinite(values[i]) || values[i] < lowest || values[i] > highest)
      return false;
  }
  out = {values[0], values[1]};
  return true;
}

// "A,B": two finite numbers from `lowest` to `highest`.
inline CLI::Validator number_pair(double lowest, double highest) {
  std::ostringstream range;
  range << "from " << lowest << " to " << highest;
  const std::string expected = "expected two finite numbers " + range.str() + ", written A,B,";
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        std::pair<double, double> values;
        return parse_number_pair(text, lowest, highest, values) ? std::string() : expected + " but got '" + text + "'";
      },
      "A,B");
}

}  // namespace wisp::apps
