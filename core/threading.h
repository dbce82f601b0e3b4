// The number of CPU threads wisp's kernels use (OpenMP, including Eigen's products).
#pragma once

namespace wisp {

// The most threads set_num_threads accepts: OpenMP reserves a stack per thread of a team, and
// libgomp crashed building a team of 100000.
constexpr int kMaxThreads = 1024;

// Sets the thread count (1 to kMaxThreads) for CPU kernels started from the calling thread
// (default: OpenMP's, usually one per core). Results are reproducible for a fixed thread count.
void set_num_threads(int num_threads);
int get_num_threads();

}  // namespace wisp
