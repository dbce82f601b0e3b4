// The sparse linear forward for inference (nothing recorded for a backward): the forward of
// kernels/sparse_linear.h, or on the CPU for batches of up to kSkipZerosMaxRows rows the forward
// that reads only the columns of W at nonzero inputs (kernels/cpu/sparse_linear_skip_zeros.h),
// whichever measured faster on this machine for the layer's shape and the fraction of zeros in x
// (kernels/cpu/kernel_choice.h). The two sum in different orders, so their results differ in
// rounding: training (ops/sparse_linear.cpp records a tape entry) always runs the plain forward.
// WISP_KERNEL_CHOICE=reference always runs the plain forward.
#pragma once

#include "wisp/core/tensor.h"
#include "wisp/kernels/sparse_linear.h"

namespace wisp::kernels {

// y [rows, out] = x · valuesᵀ + bias, as sparse_linear_forward (same arguments, same checks, within
// rounding).
Tensor sparse_linear_forward_inference(const FeatureMajor& input, const Tensor& values,
                                       const SparseStructure& structure, const Tensor& bias);

}  // namespace wisp::kernels
