// The memory bandwidths sparse_bench sets its measurements against, and the bounds they give.
//
// The batch-1 forward's bound: it reads every value, column index and row pointer once, the bias
// and x, and writes y; those bytes over the bandwidth of a streaming copy (a device-to-device copy
// on a GPU) is the least time it can take.
//
// For each batch above 1, the forward's read floor: every nonzero (o, i) reads input feature i's
// slice of the batch (batch × 4 bytes, from the feature-major copy of x), nnz × batch × 4 bytes in
// all; the floor is the time to read that many bytes sequentially from a buffer of the copy's size,
// which stays in the caches as x does (the hardware prefetchers' best case: the forward's reads are
// in the connectivity's order). A kernel that reads each nonzero's slice cannot beat it; only reuse
// of x's slices across nonzeros from closer caches could.
#pragma once

#include <cstddef>
#include <cstdint>

#include "results.h"
#include "wisp/core/config.h"  // WISP_WITH_CUDA
#include "wisp/core/device.h"
#include "wisp/layers/sparse_linear.h"

namespace wisp::sparse_bench {

// STREAM-style copy b[i] = a[i] over 256 MiB per array with all threads; bytes read + written per
// second (the convention of STREAM's "Copy"), best of several runs.
double copy_bandwidth_gb_per_s();

// Bytes per second at which all threads read `bytes` in sequential sweeps over one buffer of
// `buffer_floats` floats (each thread starts at its own offset and wraps), best of 5 runs.
double cached_read_gb_per_s(int64_t buffer_floats, double bytes);

#if WISP_WITH_CUDA
// The GPU's memory bandwidth as a device-to-device copy of 256 MiB: bytes read + written per
// second, best of 10 runs timed with CUDA events (the GPU counterpart of copy_bandwidth_gb_per_s).
double device_copy_bandwidth_gb_per_s(Device device);
#endif

// Adds the copy bandwidth and the batch-1 forward's bytes and bound under it; returns those bytes.
size_t add_batch1_bound_rows(Results& results, const nn::SparseLinear& sparse, double bandwidth);

// Adds the batch's forward read floor: the bytes every nonzero reads from the feature-major copy of
// x, that copy's size, the cached read bandwidth over a buffer of that size, and the time.
void add_read_floor_rows(Results& results, const nn::SparseLinear& sparse, int64_t batch);

}  // namespace wisp::sparse_bench
