// sparse_bench's output: the rows as CSV, or a table per device. bench/sparse_bench.py parses both
// (and docs/benchmarks.md quotes the tables): keep each line's format.
#pragma once

#include "results.h"
#include "sparse_bench.h"
#include "wisp/core/device.h"

namespace wisp::sparse_bench {

// "name,batch,value,unit" and one line per row on stdout; the notes on stderr.
void print_csv(const Results& results);

// The CPU run's table: layer, memory, times by batch (sparse beside dense), the streaming copy's
// batch-1 bound and each larger batch's read floor.
void print_cpu_table(const Arguments& arguments, const Results& results);

// The GPU run's table: as the CPU's with cuSPARSE's best beside wisp, then every cuSPARSE algorithm
// and layout by batch, the device copy's batch-1 bound, and the notes. `warmups`: untimed runs
// before each case.
void print_gpu_table(const Arguments& arguments, Device device, int warmups, const Results& results);

}  // namespace wisp::sparse_bench
