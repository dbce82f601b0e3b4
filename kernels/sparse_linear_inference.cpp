#include "wisp/kernels/sparse_linear_inference.h"

#include <omp.h>

#include <algorithm>
#include <string>

#include "wisp/kernels/cpu/kernel_choice.h"
#include "wisp/kernels/cpu/sparse_linear_skip_zeros.h"

namespace wisp::kernels {
namespace {

// What the zero-skipping forward reads (the arguments and the CSC order), checked before any variant
// runs: with WISP_KERNEL_CHOICE=skip-zeros, or once it has won, sparse_linear_forward's own checks
// never run.
void check_skip_zeros_arguments(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                                const Tensor& bias) {
  constexpr const char* op = "sparse_linear";
  WISP_CHECK(structure.defined(), op, ": the sparse structure is empty (build it with make_sparse_structure)");
  check_dtype(op, "values", values, DType::Float32);
  check_dtype(op, "input", input.data, DType::Float32);
  check_same_device(op, input.data, values);
  WISP_CHECK(values.shape() == Shape{structure.nnz()}, op, ": expected values of shape ", Shape{structure.nnz()},
             " (one per nonzero) but got ", values.shape());
  WISP_CHECK(input.data.dim() == 2 && input.features() == structure.in_features &&
                 input.stride() == feature_major_stride(input.rows),
             op, ": expected input of ", input.rows, " rows with ", structure.in_features, " features and stride ",
             feature_major_stride(input.rows), " but got data of shape ", input.data.shape());
  if (bias.defined()) {
    check_dtype(op, "bias", bias, DType::Float32);
    check_same_device(op, input.data, bias);
    WISP_CHECK(bias.shape() == Shape{structure.out_features}, op, ": expected bias of shape ",
               Shape{structure.out_features}, " but got ", bias.shape());
  }
  const DType pointers = structure.column_pointers.dtype();
  WISP_CHECK(pointers == DType::Int32 || pointers == DType::Int64, op,
             ": expected int32 or int64 column_pointers but got ", pointers);
  WISP_CHECK(structure.column_pointers.shape() == Shape{structure.in_features + 1} &&
                 structure.csc_to_value.dtype() == pointers &&
                 structure.csc_to_value.shape() == Shape{structure.nnz()} &&
                 structure.row_indices.shape() == Shape{structure.nnz()},
             op, ": expected column_pointers ", Shape{structure.in_features + 1}, ", csc_to_value ",
             Shape{structure.nnz()}, " of the same dtype and row_indices ", Shape{structure.nnz()}, " but got ",
             structure.column_pointers.shape(), ", ", structure.csc_to_value.dtype(), " ",
             structure.csc_to_value.shape(), " and ", structure.row_indices.shape());
  for (const Tensor* index : {&structure.column_pointers, &structure.row_indices, &structure.csc_to_value})
    check_same_device(op, values, *index);
}

}  // namespace

Tensor sparse_linear_forward_inference(const FeatureMajor& input, const Tensor& values,
                                       const SparseStructure& structure, const Tensor& bias) {
  if (!values.is_cpu() || input.rows == 0 || input.rows > cpu::kSkipZerosMaxRows)
    return sparse_linear_forward(input, values, structure, bias);
  check_skip_zeros_arguments(input, values, structure, bias);
  const cpu::ActiveInputs active = cpu::find_active_inputs(input);
  // Which forward wins depends on how much of W the skipping spares, so the choice is remembered per
  // tenth of zeros in x as well as per shape and thread count.
  const int zero_tenths = std::min(10, static_cast<int>(active.zero_fraction() * 10.0));
  const std::string key = "sparse_linear_forward_inference rows=" + std::to_string(input.rows) +
                          " in=" + std::to_string(structure.in_features) +
                          " out=" + std::to_string(structure.out_features) + " nnz=" + std::to_string(structure.nnz()) +
                          " threads=" + std::to_string(omp_get_max_threads()) +
                          " zeros=" + std::to_string(zero_tenths) + "/10";
  Tensor output;
  cpu::run_fastest(key, {{"sparse", [&] { output = sparse_linear_forward(input, values, structure, bias); }},
                         {"skip-zeros", [&] {
                            output = empty({input.rows, structure.out_features}, DType::Float32);
                            cpu::sparse_linear_forward_skip_zeros(
                                input, active, cpu::csc_ordered_values(values, structure), structure, bias, output);
                          }}});
  return output;
}

}  // namespace wisp::kernels
