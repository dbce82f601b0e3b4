#include "wisp/core/threading.h"

#include <omp.h>

#include "wisp/core/error.h"

namespace wisp {

void set_num_threads(int num_threads) {
  WISP_CHECK(num_threads >= 1 && num_threads <= kMaxThreads, "set_num_threads: expected 1 to ", kMaxThreads,
             " threads but got ", num_threads);
  omp_set_num_threads(num_threads);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace wisp
