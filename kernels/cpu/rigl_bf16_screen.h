// bf16 screening of RigL's grow step on AVX512-BF16 CPUs (kernels/cpu/rigl_bf16_screen.cpp states
// the method and its error bound). The same contract and result as the fp32 pass of
// kernels/cpu/rigl_grow.cpp. Internal to the CPU twin; empty without AVX512-BF16.
#pragma once

#include <cstdint>
#include <vector>

#include "wisp/kernels/cpu/rigl_grow_tiles.h"

#if defined(__AVX512BF16__)
namespace wisp::kernels::cpu::rigl_detail {

constexpr int64_t kMicroRows = 6;      // rows of G per micro-kernel call: 6 x 2 accumulators
constexpr int64_t kMicroColumns = 32;  // columns: two vectors of 16 fp32 lanes

// The operands in the layouts the screening pass reads; built once per update, O((in + out) · rows).
struct ScreeningOperands {
  int64_t pairs = 0;              // batch rows / 2, rounded up (an odd batch gets a zero row)
  int64_t padded_in = 0;          // in rounded up to kMicroColumns
  int64_t padded_out = 0;         // out rounded up to kMicroRows
  std::vector<uint32_t> x_pairs;  // [pairs][padded_in]: bf16 (x[2p, i], x[2p+1, i]), low half first
  std::vector<uint32_t> g_pairs;  // [padded_out][pairs]: bf16 (g[2p, o], g[2p+1, o])
  std::vector<float> x_columns;   // [in][rows]: x transposed, for exact rescoring
  std::vector<float> g_columns;   // [out][rows]
  std::vector<float> x_norms;     // [padded_in]: ‖x[:, i]‖ (0 in the padding)
  std::vector<float> g_norms;     // [out]: ‖g[:, o]‖
};

// False when g or x hold a NaN or an infinity: the bound above then means nothing, and the Eigen
// pass (where NaN never competes) runs instead.
bool build_screening_operands(const ConstMatrixMap& g, const ConstMatrixMap& x, ScreeningOperands& ops);

// grow_pass (kernels/cpu/rigl_grow.cpp) with bf16 screening and exact rescoring; same contract and
// result. Index: int32_t or int64_t.
template <class Index>
PassResult screened_grow_pass(const GrowProblem<Index>& p, const ScreeningOperands& ops, int64_t tile_elements,
                              float floor);

}  // namespace wisp::kernels::cpu::rigl_detail
#endif  // __AVX512BF16__
