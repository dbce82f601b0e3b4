#include "wisp/kernels/rigl.h"

#include <limits>

#include "wisp/kernels/cpu/rigl.h"
#include "wisp/kernels/cpu/sparse_linear.h"
#include "wisp/kernels/dispatch.h"
#if WISP_WITH_CUDA
#include "wisp/kernels/cuda/rigl.h"
#endif

namespace wisp::kernels {
namespace {

void check_mask(const char* op, const char* name, const Tensor& mask, int64_t nnz) {
  check_dtype(op, name, mask, DType::UInt8);
  WISP_CHECK(mask.shape() == Shape{nnz}, op, ": expected ", name, " of shape ", Shape{nnz},
             " (one per nonzero) but got ", mask.shape());
}

// Counts the ones of a UInt8 mask on the host (to_vector copies a device mask there): masks are
// small next to what the updates compute.
int64_t count_ones(const Tensor& mask) {
  int64_t ones = 0;
  for (uint8_t value : mask.to_vector<uint8_t>()) ones += value != 0;
  return ones;
}

void copy_into(const Tensor& destination, const Tensor& source) {
  copy_bytes(destination.raw_data(), destination.device(), source.raw_data(), source.device(), source.nbytes());
}

}  // namespace

Tensor smallest_magnitude_mask(const Tensor& values, int64_t count, uint64_t tie_seed) {
  constexpr const char* op = "smallest_magnitude_mask";
  check_dtype(op, "values", values, DType::Float32);
  WISP_CHECK(values.dim() == 1, op, ": expected 1-D values but got shape ", values.shape());
  WISP_CHECK(count >= 0 && count <= values.numel(), op, ": expected a count in [0, ", values.numel(), "] but got ",
             count);
  Tensor mask = empty(values.shape(), TensorOptions(DType::UInt8).device(values.device()));
  dispatch(
      op, values, [&] { cpu::smallest_magnitude_mask(values, count, tie_seed, mask); },
      WISP_CUDA_TWIN(cuda::smallest_magnitude_mask(values, count, tie_seed, mask)));
  return mask;
}

Tensor largest_absent_gradients(const Tensor& grad_output, const Tensor& input, const SparseStructure& structure,
                                const Tensor& dropped, int64_t count, uint64_t tie_seed, int64_t tile_elements) {
  constexpr const char* op = "largest_absent_gradients";
  WISP_CHECK(structure.defined(), op, ": the sparse structure is empty");
  check_dtype(op, "grad_output", grad_output, DType::Float32);
  check_dtype(op, "input", input, DType::Float32);
  WISP_CHECK(grad_output.dim() == 2 && grad_output.size(1) == structure.out_features, op,
             ": expected grad_output of shape [rows, ", structure.out_features, "] but got ", grad_output.shape());
  WISP_CHECK(input.dim() == 2 && input.size(1) == structure.in_features && input.size(0) == grad_output.size(0), op,
             ": expected input of shape [", grad_output.size(0), ", ", structure.in_features, "] but got ",
             input.shape());
  check_same_device(op, grad_output, input);
  check_same_device(op, grad_output, dropped);
  WISP_CHECK(structure.device() == grad_output.device(), op, ": grad_output is on ", grad_output.device(),
             " but the sparse structure is on ", structure.device());
  check_mask(op, "dropped", dropped, structure.nnz());
  WISP_CHECK(tile_elements >= 0, op, ": expected tile_elements >= 0 but got ", tile_elements);
  const int64_t staying = structure.nnz() - count_ones(dropped);
  const int64_t absent = structure.out_features * structure.in_features - staying;
  WISP_CHECK(count >= 0 && count <= absent, op, ": expected a count in [0, ", absent,
             "] (the positions not kept) but got ", count);
  Tensor positions = empty({count}, TensorOptions(DType::Int64).device(grad_output.device()));
  // The CPU holds a tile per thread: 2^20 entries stay in its caches. The GPU stores no tile; its
  // tile only bounds the entries of G per launch, and one launch over the whole of G fills it best.
  constexpr int64_t kDefaultTileElements = int64_t(1) << 20;
  [[maybe_unused]] constexpr int64_t kDefaultCudaTileElements = std::numeric_limits<int64_t>::max();
  dispatch(
      op, grad_output,
      [&] {
        cpu::largest_absent_gradients(grad_output, input, structure, dropped, absent, count, tie_seed,
                                      tile_elements > 0 ? tile_elements : kDefaultTileElements, positions);
      },
      WISP_CUDA_TWIN(cuda::largest_absent_gradients(grad_output, input, structure, dropped, absent, count, tie_seed,
                                                    tile_elements > 0 ? tile_elements : kDefaultCudaTileElements,
                                                    positions)));
  return positions;
}

RewiredConnections rewire_connections(const SparseStructure& structure, const Tensor& dropped, const Tensor& grown) {
  constexpr const char* op = "rewire_connections";
  WISP_CHECK(structure.defined(), op, ": the sparse structure is empty");
  check_mask(op, "dropped", dropped, structure.nnz());
  check_dtype(op, "grown", grown, DType::Int64);
  WISP_CHECK(grown.dim() == 1, op, ": expected 1-D grown positions but got shape ", grown.shape());
  check_same_device(op, dropped, grown);
  WISP_CHECK(structure.device() == dropped.device(), op, ": dropped is on ", dropped.device(),
             " but the sparse structure is on ", structure.device());
  // The kernels check, while it merges, that grown positions increase, lie in the matrix and
  // avoid the nonzeros that stay.
  const int64_t new_nnz = structure.nnz() - count_ones(dropped) + grown.numel();
  RewiredConnections result;
  const TensorOptions options = TensorOptions(DType::Int64).device(dropped.device());
  result.indices = empty({2, new_nnz}, options);
  result.source = empty({new_nnz}, options);
  dispatch(
      op, dropped, [&] { result.new_connections = cpu::rewire_connections(structure, dropped, grown, result); },
      WISP_CUDA_TWIN(result.new_connections = cuda::rewire_connections(structure, dropped, grown, result)));
  return result;
}

void gather_or_zero_(const Tensor& tensor, const Tensor& source) {
  constexpr const char* op = "gather_or_zero_";
  check_dtype(op, "tensor", tensor, DType::Float32);
  check_dtype(op, "source", source, DType::Int64);
  WISP_CHECK(tensor.dim() == 1 && source.shape() == tensor.shape(), op,
             ": expected 1-D tensor and source of one "
             "shape but got ",
             tensor.shape(), " and ", source.shape());
  check_same_device(op, tensor, source);
  dispatch(
      op, tensor, [&] { cpu::gather_or_zero_(tensor, source); }, WISP_CUDA_TWIN(cuda::gather_or_zero_(tensor, source)));
  tensor.bump_version();
}

void rebuild_sparse_structure_(const SparseStructure& structure, const Tensor& indices) {
  constexpr const char* op = "rebuild_sparse_structure_";
  WISP_CHECK(structure.defined(), op, ": the sparse structure is empty");
  WISP_CHECK(indices.defined() && indices.dim() == 2 && indices.size(0) == 2 && indices.size(1) == structure.nnz(), op,
             ": expected indices of shape [2, ", structure.nnz(), "] (the same nnz) but got ",
             indices.defined() ? detail::concat(indices.shape()) : std::string("an undefined tensor"));
  check_dtype(op, "indices", indices, DType::Int64);
  const Tensor host = indices.is_cpu() ? indices : copy_to_device(indices, Device::cpu());
  check_sorted_connectivity(op, host, structure.out_features, structure.in_features);
  // Counted as in-place updates: a graph recorded through the old structure (which SparseLinear's
  // backward saves) refuses to back-propagate through the new one.
  for (const Tensor* t : {&structure.row_pointers, &structure.column_indices, &structure.column_pointers,
                          &structure.row_indices, &structure.csc_to_value})
    t->bump_version();
  if (structure.device().is_cpu()) {  // straight into the existing tensors
    cpu::build_sparse_structure(host, structure);
    return;
  }
  // Elsewhere (CUDA): a host round trip, not a device kernel: the indices come to the host (checked
  // there anyway), the structure is built there and copied into the existing tensors, whose handles
  // modules hold. O(nnz) copies once per RigL update (every delta_t steps), against the update's
  // O(out · in · rows) grow step on the device.
  const SparseStructure fresh =
      make_sparse_structure(host, structure.out_features, structure.in_features, structure.index_dtypes());
  copy_into(structure.row_pointers, fresh.row_pointers);
  copy_into(structure.column_indices, fresh.column_indices);
  copy_into(structure.column_pointers, fresh.column_pointers);
  copy_into(structure.row_indices, fresh.row_indices);
  copy_into(structure.csc_to_value, fresh.csc_to_value);
}

}  // namespace wisp::kernels
