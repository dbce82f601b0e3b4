// The number of CPU threads wisp's kernels use (OpenMP, including Eigen's products).
#pragma once

namespace wisp {

// Sets the thread count for CPU kernels started from the calling thread (default: OpenMP's,
// usually one per core). Results are reproducible for a fixed thread count.
void set_num_threads(int num_threads);
int get_num_threads();

}  // namespace wisp
