#include "wisp/kernels/sparse_linear.h"

#include <limits>
#include <memory>

#include "wisp/kernels/cpu/sparse_linear.h"
#include "wisp/kernels/cpu/sparse_linear_dense.h"
#include "wisp/kernels/dispatch.h"
#if WISP_WITH_CUDA
#include "wisp/kernels/cuda/sparse_linear.h"
#endif

namespace wisp::kernels {
namespace {

// One index tensor of a structure: defined, 1-D of `size` entries, on `device` (dtypes are checked
// by check_structure).
void check_index_tensor(const char* name, const Tensor& t, int64_t size, Device device) {
  WISP_CHECK(t.defined() && t.shape() == Shape{size}, "SparseStructure: expected ", name, " of shape ", Shape{size},
             " but got ", t.defined() ? detail::concat(t.dtype(), " ", t.shape()) : std::string("an undefined tensor"));
  WISP_CHECK(t.device() == device, "SparseStructure: expected ", name, " on ", device,
             " (column_indices' device) but it is on ", t.device());
}

// Feature indices (column_indices, row_indices) hold the pointers' dtype, or uint16 for a side of at
// most kMaxUInt16IndexedFeatures features (SparseIndexDTypes).
bool feature_index_dtype_allowed(DType dtype, DType pointers, int64_t features) {
  return dtype == pointers || (dtype == DType::UInt16 && features <= kMaxUInt16IndexedFeatures);
}

// The kernels index memory through the structure: check that its tensors agree with each other.
void check_structure(const char* op, const SparseStructure& s) {
  WISP_CHECK(s.defined(), op, ": the sparse structure is empty (build it with make_sparse_structure)");
  WISP_CHECK(s.column_indices.defined(),
             "SparseStructure: expected column_indices of shape [nnz] but got an undefined "
             "tensor");
  const Device device = s.device();
  check_index_tensor("row_pointers", s.row_pointers, s.out_features + 1, device);
  check_index_tensor("column_indices", s.column_indices, s.nnz(), device);
  check_index_tensor("column_pointers", s.column_pointers, s.in_features + 1, device);
  check_index_tensor("row_indices", s.row_indices, s.nnz(), device);
  check_index_tensor("csc_to_value", s.csc_to_value, s.nnz(), device);
  const SparseIndexDTypes dtypes = s.index_dtypes();
  WISP_CHECK(dtypes.pointers == DType::Int32 || dtypes.pointers == DType::Int64, op,
             ": expected Int32 or Int64 row_pointers but got ", dtypes.pointers);
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"column_pointers", &s.column_pointers},
                                {"csc_to_value", &s.csc_to_value}})
    WISP_CHECK(t->dtype() == dtypes.pointers, op, ": expected ", name, " of dtype ", dtypes.pointers,
               " (row_pointers') but got ", t->dtype());
  const auto check_feature_dtype = [&](const char* name, DType dtype, int64_t features) {
    WISP_CHECK(feature_index_dtype_allowed(dtype, dtypes.pointers, features), op, ": expected ", name, " of dtype ",
               dtypes.pointers, " (row_pointers') or uint16 (for at most ", kMaxUInt16IndexedFeatures,
               " features) but got ", dtype, " for ", features, " features");
  };
  check_feature_dtype("column_indices", dtypes.columns, s.in_features);
  check_feature_dtype("row_indices", dtypes.rows, s.out_features);
}

// Values in float32, or bfloat16 for the reduced-precision copies (read as floats).
void check_values(const char* op, const Tensor& values, const SparseStructure& s) {
  WISP_CHECK(values.defined() && (values.dtype() == DType::Float32 || values.dtype() == DType::BFloat16), op,
             ": expected values of dtype float32 or bfloat16 but got ",
             values.defined() ? dtype_name(values.dtype()) : "an undefined tensor");
  WISP_CHECK(values.shape() == Shape{s.nnz()}, op, ": expected values of shape ", Shape{s.nnz()},
             " (one per nonzero) but got ", values.shape());
  WISP_CHECK(values.device() == s.device(), op, ": values are on ", values.device(), " but the sparse structure is on ",
             s.device());
}

void check_feature_major(const char* op, const char* name, const FeatureMajor& t, int64_t features) {
  WISP_CHECK(t.data.defined() && (t.data.dtype() == DType::Float32 || t.data.dtype() == DType::BFloat16), op,
             ": expected ", name, " of dtype float32 or bfloat16 but got ",
             t.data.defined() ? dtype_name(t.data.dtype()) : "an undefined tensor");
  WISP_CHECK(t.data.dim() == 2 && t.features() == features, op, ": expected ", name, " with ", features,
             " features but got data of shape ", t.data.shape());
  const int64_t expected_stride = feature_major_stride(t.rows);
  WISP_CHECK(t.stride() == expected_stride, op, ": expected ", name, " of ", t.rows, " rows with stride ",
             expected_stride, " but got data of shape ", t.data.shape());
  WISP_CHECK(t.data.dtype() == DType::Float32 || t.rows >= 2, op, ": expected a float32 ", name,
             " for a single row (its bfloat16 copy is only made for two rows or more) but got bfloat16");
}

// A detached tensor sharing t's storage with another shape of the same size (kernels/ cannot use the
// differentiable view of layers/).
Tensor alias_with_shape(const Tensor& t, const Shape& shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.impl()->storage;
  impl->offset = t.impl()->offset;
  impl->shape = shape;
  impl->dtype = t.dtype();
  return Tensor(impl);
}

void zero(const Tensor& t) { zero_bytes(t.raw_data(), t.device(), t.nbytes()); }

}  // namespace

void check_sorted_connectivity(const char* op, const Tensor& host_indices, int64_t out_features, int64_t in_features) {
  const int64_t nnz = host_indices.size(1);
  const int64_t* rows = host_indices.data<int64_t>();
  const int64_t* cols = rows + nnz;
  for (int64_t k = 0; k < nnz; ++k) {
    WISP_CHECK(rows[k] >= 0 && rows[k] < out_features, op, ": row index ", rows[k], " of nonzero ", k,
               " out of range [0, ", out_features, ")");
    WISP_CHECK(cols[k] >= 0 && cols[k] < in_features, op, ": column index ", cols[k], " of nonzero ", k,
               " out of range [0, ", in_features, ")");
    WISP_CHECK(k == 0 || rows[k] > rows[k - 1] || (rows[k] == rows[k - 1] && cols[k] > cols[k - 1]), op,
               ": expected indices sorted by (row, col) without duplicates, but nonzero ", k, " (", rows[k], ", ",
               cols[k], ") follows (", rows[k - 1], ", ", cols[k - 1], "); coalesce them first");
  }
}

SparseStructure make_sparse_structure(const Tensor& indices, int64_t out_features, int64_t in_features) {
  const int64_t nnz = indices.defined() && indices.dim() == 2 ? indices.size(1) : 0;
  return make_sparse_structure(indices, out_features, in_features,
                               SparseIndexDTypes::smallest(nnz, out_features, in_features));
}

SparseStructure make_sparse_structure(const Tensor& indices, int64_t out_features, int64_t in_features,
                                      DType index_dtype) {
  WISP_CHECK(index_dtype == DType::Int32 || index_dtype == DType::Int64,
             "make_sparse_structure: expected index dtype int32 or int64 but got ", index_dtype);
  return make_sparse_structure(indices, out_features, in_features, SparseIndexDTypes::uniform(index_dtype));
}

SparseStructure make_sparse_structure(const Tensor& indices, int64_t out_features, int64_t in_features,
                                      const SparseIndexDTypes& index_dtypes) {
  constexpr const char* op = "make_sparse_structure";
  check_dtype(op, "indices", indices, DType::Int64);
  WISP_CHECK(indices.dim() == 2 && indices.size(0) == 2, op, ": expected indices of shape [2, nnz] but got ",
             indices.shape());
  WISP_CHECK(out_features > 0 && in_features > 0, op, ": expected positive out_features and in_features but got ",
             out_features, " and ", in_features);
  // The pointer arrays hold one entry more than their size: out_features + 1 must not overflow.
  WISP_CHECK(out_features < INT64_MAX && in_features < INT64_MAX, op, ": expected out_features and in_features below ",
             INT64_MAX, " (their pointer arrays hold one entry more) but got ", out_features, " and ", in_features);
  const DType pointer_dtype = index_dtypes.pointers;
  WISP_CHECK(pointer_dtype == DType::Int32 || pointer_dtype == DType::Int64, op,
             ": expected pointer dtype int32 or int64 but got ", pointer_dtype);
  const int64_t nnz = indices.size(1);
  if (pointer_dtype == DType::Int32) {
    WISP_CHECK(
        nnz <= kMaxInt32IndexedSize && out_features <= kMaxInt32IndexedSize && in_features <= kMaxInt32IndexedSize, op,
        ": nnz=", nnz, ", out_features=", out_features, ", in_features=", in_features,
        " do not all fit in int32 indices (at most ", kMaxInt32IndexedSize,
        " each, which leaves the kernels "
        "room to look ahead)");
  }
  const auto check_feature_dtype = [&](const char* name, DType dtype, int64_t features) {
    WISP_CHECK(feature_index_dtype_allowed(dtype, pointer_dtype, features), op, ": expected ", name, " dtype ",
               pointer_dtype, " (the pointers') or uint16 (for at most ", kMaxUInt16IndexedFeatures,
               " features) but got ", dtype, " for ", features, " features");
  };
  check_feature_dtype("column index", index_dtypes.columns, in_features);
  check_feature_dtype("row index", index_dtypes.rows, out_features);

  // Validate on the CPU (the structure is built there once per connectivity, then moved).
  const Tensor host = indices.is_cpu() ? indices : copy_to_device(indices, Device::cpu());
  check_sorted_connectivity(op, host, out_features, in_features);

  SparseStructure structure;
  structure.out_features = out_features;
  structure.in_features = in_features;
  structure.row_pointers = empty({out_features + 1}, pointer_dtype);
  structure.column_indices = empty({nnz}, index_dtypes.columns);
  structure.column_pointers = empty({in_features + 1}, pointer_dtype);
  structure.row_indices = empty({nnz}, index_dtypes.rows);
  structure.csc_to_value = empty({nnz}, pointer_dtype);
  cpu::build_sparse_structure(host, structure);
  return structure.to(indices.device());
}

FeatureMajor to_feature_major(const Tensor& batch_major) { return to_feature_major(batch_major, DType::Float32); }

FeatureMajor to_feature_major(const Tensor& batch_major, DType element) {
  check_dtype("to_feature_major", "input", batch_major, DType::Float32);
  WISP_CHECK(element == DType::Float32 || element == DType::BFloat16,
             "to_feature_major: expected a float32 or bfloat16 copy but got ", element);
  WISP_CHECK(batch_major.dim() == 2, "to_feature_major: expected a 2-D [rows, features] tensor but got shape ",
             batch_major.shape());
  const int64_t rows = batch_major.size(0), features = batch_major.size(1);
  FeatureMajor result;
  result.rows = rows;
  if (rows <= 1) {  // [1, f] and [f, 1] are the same memory, read once: a bfloat16 copy would save nothing
    result.data = alias_with_shape(batch_major, {features, rows});
    return result;
  }
  result.data = empty({features, feature_major_stride(rows)}, TensorOptions(element).device(batch_major.device()));
  dispatch(
      "to_feature_major", batch_major, [&] { cpu::to_feature_major(batch_major, result); },
      WISP_CUDA_TWIN(cuda::to_feature_major(batch_major, result)));
  return result;
}

Tensor sparse_linear_forward(const FeatureMajor& input, const Tensor& values, const SparseStructure& structure,
                             const Tensor& bias) {
  constexpr const char* op = "sparse_linear";
  check_structure(op, structure);
  check_values(op, values, structure);
  check_feature_major(op, "input", input, structure.in_features);
  check_same_device(op, input.data, values);
  if (bias.defined()) {
    check_dtype(op, "bias", bias, DType::Float32);
    check_same_device(op, input.data, bias);
    WISP_CHECK(bias.shape() == Shape{structure.out_features}, op, ": expected bias of shape ",
               Shape{structure.out_features}, " but got ", bias.shape());
  }
  Tensor output = empty({input.rows, structure.out_features}, TensorOptions(DType::Float32).device(values.device()));
  if (input.rows == 0) return output;
  dispatch(
      op, values, [&] { cpu::sparse_linear_forward_measured(input, values, structure, bias, output); },
      WISP_CUDA_TWIN(cuda::sparse_linear_forward(input, values, structure, bias, output)));
  return output;
}

SparseLinearGradients sparse_linear_backward(const Tensor& grad_output, const FeatureMajor& input, const Tensor& values,
                                             const SparseStructure& structure, bool need_input, bool need_values,
                                             bool need_bias) {
  constexpr const char* op = "sparse_linear backward";
  check_structure(op, structure);
  check_dtype(op, "grad_output", grad_output, DType::Float32);
  WISP_CHECK(grad_output.dim() == 2 && grad_output.size(1) == structure.out_features, op,
             ": expected grad_output of shape [rows, ", structure.out_features, "] but got ", grad_output.shape());
  WISP_CHECK(grad_output.device() == structure.device(), op, ": grad_output is on ", grad_output.device(),
             " but the sparse structure is on ", structure.device());
  const int64_t rows = grad_output.size(0);
  const TensorOptions options = TensorOptions(DType::Float32).device(grad_output.device());
  SparseLinearGradients gradients;
  if (need_input) {
    check_values(op, values, structure);
    gradients.input = empty({rows, structure.in_features}, options);
  }
  if (need_values) {
    check_feature_major(op, "input", input, structure.in_features);
    check_same_device(op, grad_output, input.data);
    WISP_CHECK(input.rows == rows, op, ": expected input with ", rows, " rows (as grad_output) but got ", input.rows);
    gradients.values = empty({structure.nnz()}, options);
  }
  if (need_bias) gradients.bias = empty({structure.out_features}, options);
  if (rows == 0) {  // an empty batch contributes nothing
    if (need_values) zero(gradients.values);
    if (need_bias) zero(gradients.bias);
    return gradients;
  }
  FeatureMajor grad_output_t;
  if (need_input || need_values) grad_output_t = to_feature_major(grad_output);
  dispatch(
      op, grad_output,
      [&] {
        if (need_input) cpu::sparse_linear_backward_input_measured(grad_output_t, values, structure, gradients.input);
        if (need_values) cpu::sparse_linear_backward_values(grad_output_t, input, structure, gradients.values);
        if (need_bias) cpu::sparse_linear_backward_bias(grad_output, gradients.bias);
      },
      WISP_CUDA_TWIN({
        if (need_input) cuda::sparse_linear_backward_input(grad_output_t, values, structure, gradients.input);
        if (need_values) cuda::sparse_linear_backward_values(grad_output_t, input, structure, gradients.values);
        if (need_bias) cuda::sparse_linear_backward_bias(grad_output, gradients.bias);
      }));
  return gradients;
}

}  // namespace wisp::kernels
