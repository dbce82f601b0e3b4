// The CUDA device-memory runtime that core/ builds on: device queries, the caching allocator,
// copies and synchronisation (and an event timer for benchmarks). A plain C++ header (no CUDA
// headers), so that core/ can call it; only kernels/cuda/*.cu include the CUDA toolkit. Compiled
// only when WISP_WITH_CUDA.
//
// Every CUDA error becomes a wisp::Error naming the call, the file and line, and CUDA's message.
#pragma once

#include <cstddef>

// CUDA's opaque stream and event types (cudaStream_t is `CUstream_st*`, cudaEvent_t `CUevent_st*`),
// declared here so that this header stays free of CUDA headers.
struct CUstream_st;
struct CUevent_st;

namespace wisp::cuda_runtime {

// The one stream of GPU `device`, created on first use and kept for the life of the process. Every
// kernel, copy, memset and library call of wisp on that device goes to it, so work on one device
// runs in the order it was issued, and a block the caching allocator hands out again is only
// touched after the work that used it before (stream-ordered reuse). It is a blocking stream:
// work that other code puts on the legacy default stream still waits for it and vice versa.
CUstream_st* stream(int device);

// Usable GPUs; 0 when there is no driver or no device (never throws).
int device_count();

// `nbytes` of memory on GPU `device` from the caching allocator: freed blocks are kept per
// device and size class and reused, so a training step does not call cudaMalloc.
// A wisp::Error when nbytes exceeds PTRDIFF_MAX or the GPU is out of memory.
void* allocate(size_t nbytes, int device);
void deallocate(void* pointer, size_t nbytes, int device);
// Returns cached blocks to the driver (cudaFree); called when an allocation fails before retrying.
void empty_cache();

// Copies `nbytes`; a device index of -1 means host memory. A copy from or to the host returns once
// it is done (it waits for the device's earlier work); one within a GPU is queued on its stream.
void copy(void* destination, int destination_device, const void* source, int source_device, size_t nbytes);
// Zeroes `nbytes` of device memory, queued on the device's stream.
void zero(void* destination, size_t nbytes, int device);
// Waits until the work queued on the device's stream is done.
void synchronize(int device);

// Times work on GPU `device`'s stream with a pair of CUDA events (for benchmarks): start() and
// stop() record an event on stream(device) and return at once; elapsed_ms() waits for the stop
// event and returns the GPU time between the two in milliseconds (about 0.5 µs resolution). It
// measures the stream's timeline, so an interval includes the time the GPU waited for the host to
// launch work (a host-bound call still shows its host time) but not the host's wake-up after the
// last kernel, which a host clock around synchronize() adds (microseconds: much of a 0.1 ms call).
class EventTimer {
 public:
  explicit EventTimer(int device);
  ~EventTimer();
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  void start();
  void stop();
  // Waits for the last stop(); the time from the last start() to it. A wisp::Error when start() or
  // stop() has not run yet.
  double elapsed_ms();

 private:
  int device_;
  CUevent_st* start_ = nullptr;
  CUevent_st* stop_ = nullptr;
};

}  // namespace wisp::cuda_runtime
