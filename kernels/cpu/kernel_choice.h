// Picks among interchangeable CPU kernel variants by timing them on the caller's own data the first
// time a kind of call is seen, and remembers the winner for the rest of the process.
//
// Why at run time: the machines wisp runs on differ several-fold in cache bandwidth (an AVX-512 Zen 4
// and an AVX2 Zen 3 ran the same batch-64 sparse forward in 10 and 70 ms), so which loop is fastest
// for a given shape is a property of the machine, not of the code; a compile-time guess is wrong on
// one of them. Measuring at first use costs each variant a few runs once per process and shape class.
//
// Contract for the variants: each computes the same result into the same outputs and overwrites
// (never accumulates into) them, so that running several of them, in any order, leaves the outputs as
// any one of them would. Variants whose results differ in rounding must say so where they are chosen.
//
// WISP_KERNEL_CHOICE overrides the measurement for the whole process: "measure" (the default),
// "reference" (always variant 0, the reference kernel: what a bit-for-bit comparison across machines
// wants), or a variant's name, which is run wherever a choice offers a variant of that name (the
// others measure as usual): benchmarks use it to time one variant alone.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace wisp::kernels::cpu {

// One variant: a name for reports (kernel_choices()) and the call that runs it.
struct KernelVariant {
  const char* name;
  std::function<void()> run;
};

// Runs one of `variants` (at least one) and returns its position. The first call with a given `key`
// times every variant (each run kRepetitions times, interleaved, the minimum kept) and runs the
// fastest last, so the outputs hold its result; later calls with that key run the remembered winner
// only. `key` names the kernel and the shape class it was measured on (e.g. "sparse_linear_forward
// rows=64 out=20000 nnz=4000000"); the caller decides how coarse a class is. Thread safe; the
// measurement itself runs on the calling thread (the variants may use OpenMP inside).
int run_fastest(const std::string& key, const std::vector<KernelVariant>& variants);

// The choices made so far in this process, one line each: "<key>: <variant> (<ms per variant>...)",
// for benchmarks and --verbose reports.
std::vector<std::string> kernel_choices();

// Forgets every remembered choice (tests; a benchmark that compares variants).
void forget_kernel_choices();

}  // namespace wisp::kernels::cpu
