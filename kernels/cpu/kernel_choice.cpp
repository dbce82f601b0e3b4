// kernels/cpu/kernel_choice.h: the measured choice between kernel variants and its per-process memory.
#include "wisp/kernels/cpu/kernel_choice.h"

#include <chrono>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>

#include "wisp/core/error.h"

namespace wisp::kernels::cpu {
namespace {

// Each variant runs this many times, interleaved with the others, and its fastest run counts: the
// minimum is the least disturbed by other processes and by the first run's cold caches.
constexpr int kRepetitions = 3;

struct Choice {
  int winner = 0;
  std::string report;
};

std::mutex& choices_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::map<std::string, Choice>& choices() {
  static std::map<std::string, Choice> remembered;
  return remembered;
}

// WISP_KERNEL_CHOICE, read once: empty or "measure" for measuring.
const std::string& override_setting() {
  static const std::string setting = [] {
    const char* value = std::getenv("WISP_KERNEL_CHOICE");
    return std::string(value ? value : "");
  }();
  return setting;
}

double milliseconds_of(const std::function<void()>& run) {
  const auto start = std::chrono::steady_clock::now();
  run();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int run_fastest(const std::string& key, const std::vector<KernelVariant>& variants) {
  WISP_CHECK(!variants.empty(), "run_fastest: expected at least one variant for \"", key, "\" but got none");
  const int count = static_cast<int>(variants.size());
  const std::string& setting = override_setting();
  if (setting == "reference") {
    variants[0].run();
    return 0;
  }
  if (!setting.empty() && setting != "measure") {
    for (int v = 0; v < count; ++v)
      if (setting == variants[static_cast<size_t>(v)].name) {
        variants[static_cast<size_t>(v)].run();
        return v;
      }
  }
  if (count == 1) {
    variants[0].run();
    return 0;
  }
  int remembered = -1;
  {
    const std::lock_guard<std::mutex> lock(choices_mutex());
    const auto found = choices().find(key);
    if (found != choices().end()) remembered = found->second.winner;
  }
  // Run outside the lock: a variant may itself choose among kernels (and other threads may choose).
  if (remembered >= 0) {
    variants[static_cast<size_t>(remembered)].run();
    return remembered;
  }
  // Measured outside the lock: variants may take long and may themselves choose kernels.
  std::vector<double> best(static_cast<size_t>(count), std::numeric_limits<double>::infinity());
  for (int repetition = 0; repetition < kRepetitions; ++repetition)
    for (int v = 0; v < count; ++v)
      best[static_cast<size_t>(v)] =
          std::min(best[static_cast<size_t>(v)], milliseconds_of(variants[static_cast<size_t>(v)].run));
  int winner = 0;
  for (int v = 1; v < count; ++v)
    if (best[static_cast<size_t>(v)] < best[static_cast<size_t>(winner)]) winner = v;
  std::ostringstream report;
  report << key << ": " << variants[static_cast<size_t>(winner)].name << " (";
  for (int v = 0; v < count; ++v)
    report << (v ? ", " : "") << variants[static_cast<size_t>(v)].name << " " << best[static_cast<size_t>(v)] << " ms";
  report << ")";
  if (winner != count - 1) variants[static_cast<size_t>(winner)].run();  // the outputs hold the winner's result
  const std::lock_guard<std::mutex> lock(choices_mutex());
  // Another thread may have measured the same key meanwhile; the first recorded choice stays (this
  // call's outputs hold its own winner's result, which is equally valid).
  choices().emplace(key, Choice{winner, report.str()});
  return winner;
}

std::vector<std::string> kernel_choices() {
  const std::lock_guard<std::mutex> lock(choices_mutex());
  std::vector<std::string> lines;
  for (const auto& [key, choice] : choices()) lines.push_back(choice.report);
  return lines;
}

void forget_kernel_choices() {
  const std::lock_guard<std::mutex> lock(choices_mutex());
  choices().clear();
}

}  // namespace wisp::kernels::cpu
