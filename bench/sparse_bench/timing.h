// How sparse_bench times a case: the median and the minimum of repeated runs after warm-ups, each
// started on an idle device.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

#include "wisp/core/config.h"  // WISP_WITH_CUDA
#include "wisp/core/device.h"
#if WISP_WITH_CUDA
#include <optional>

#include "wisp/core/cuda/runtime.h"  // cuda_runtime::EventTimer
#endif

namespace wisp::sparse_bench {

struct Timing {
  double median_ms = 0, min_ms = 0;
};

// Milliseconds from `start` to now on the steady clock.
inline double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Runs `body` `warmups` times, then `reps` times; the median and the minimum in milliseconds. Each
// timed run starts after `device` finished earlier work. On the CPU it is timed with steady_clock;
// on a GPU with CUDA events on the device's stream (cuda_runtime::EventTimer), from just before the
// run's first launch to the end of its last kernel, without a host synchronisation's overhead.
template <class Body>
Timing time_runs(int reps, Body body, Device device = Device::cpu(), int warmups = 1) {
  for (int i = 0; i < warmups; ++i) body();
  std::vector<double> ms;
#if WISP_WITH_CUDA
  std::optional<cuda_runtime::EventTimer> timer;
  if (device.is_cuda()) timer.emplace(device.index);
#endif
  for (int i = 0; i < reps; ++i) {
    synchronize(device);
#if WISP_WITH_CUDA
    if (timer) {
      timer->start();
      body();
      timer->stop();
      ms.push_back(timer->elapsed_ms());
      continue;
    }
#endif
    const auto start = std::chrono::steady_clock::now();
    body();
    synchronize(device);
    ms.push_back(milliseconds_since(start));
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front()};
}

}  // namespace wisp::sparse_bench
