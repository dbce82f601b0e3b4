// The radix sort of RigL's grown positions (kernels/cpu/rigl_grow.cpp). Internal to the CPU twin.
#pragma once

#include <cstdint>

namespace wisp::kernels::cpu::rigl_detail {

// Sorts positions[0, count), each in [0, cells), ascending.
void sort_positions(int64_t* positions, int64_t count, int64_t cells);

}  // namespace wisp::kernels::cpu::rigl_detail
