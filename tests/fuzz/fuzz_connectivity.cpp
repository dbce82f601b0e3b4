// libFuzzer target: connectivity validation on fuzzed indices and sizes — nn::coalesce_connectivity,
// kernels::check_sorted_connectivity and kernels::make_sparse_structure, plus random and
// small-world connectivity on fuzzed shapes. Each call must return a valid result or throw
// wisp::Error; anything else (a crash, a sanitizer report, another exception, an invalid result)
// is a finding.
//
// Input: byte 0 chooses how the rest is read (bit 0: 8-byte sizes, else one byte each; bit 1:
// 8-byte indices, else one byte each, offset to reach -4; bit 2: force int32 structure indices);
// then in_features, out_features, then (row, col) pairs until the input ends: the rows first, then
// the cols, as in the [2, nnz] layout.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <utility>
#include <vector>

#include "wisp/core/factories.h"
#include "wisp/kernels/sparse_linear.h"
#include "wisp/layers/connectivity.h"

namespace {

using wisp::DType;
using wisp::Tensor;

void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz_connectivity: %s\n", what);
  std::abort();
}

struct Reader {
  const uint8_t* data;
  size_t size;
  size_t position = 0;
  bool empty() const { return position >= size; }
  uint8_t byte() { return position < size ? data[position++] : 0; }
  int64_t wide() {
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value = value << 8 | byte();
    return static_cast<int64_t>(value);
  }
};

// Any index tensor (uint16, int32 or int64) as int64 values.
std::vector<int64_t> as_int64(const Tensor& t) { return t.to(DType::Int64).to_vector<int64_t>(); }

// A [2, nnz] connectivity sorted by (row, col) without duplicates, within the layer's sizes.
void require_sorted(const Tensor& connectivity, int64_t in_features, int64_t out_features) {
  require(connectivity.dtype() == DType::Int64 && connectivity.dim() == 2 && connectivity.size(0) == 2,
          "a connectivity is not Int64 [2, nnz]");
  const int64_t nnz = connectivity.size(1);
  const std::vector<int64_t> flat = connectivity.to_vector<int64_t>();
  for (int64_t k = 0; k < nnz; ++k) {
    const int64_t row = flat[static_cast<size_t>(k)], col = flat[static_cast<size_t>(nnz + k)];
    require(row >= 0 && row < out_features && col >= 0 && col < in_features, "an index is out of range");
    if (k > 0) {
      const int64_t previous_row = flat[static_cast<size_t>(k - 1)],
                    previous_col = flat[static_cast<size_t>(nnz + k - 1)];
      require(previous_row < row || (previous_row == row && previous_col < col), "not sorted or not unique");
    }
  }
}

void check_coalesce(const Tensor& indices, int64_t in_features, int64_t out_features) {
  Tensor coalesced;
  try {
    coalesced = wisp::nn::coalesce_connectivity(indices, in_features, out_features);
  } catch (const wisp::Error&) {
    return;
  }
  require_sorted(coalesced, in_features, out_features);
  const int64_t nnz = indices.size(1);
  const std::vector<int64_t> given = indices.to_vector<int64_t>();
  std::set<std::pair<int64_t, int64_t>> expected;
  for (int64_t k = 0; k < nnz; ++k)
    expected.insert({given[static_cast<size_t>(k)], given[static_cast<size_t>(nnz + k)]});
  const std::vector<int64_t> result = coalesced.to_vector<int64_t>();
  const int64_t count = coalesced.size(1);
  require(static_cast<size_t>(count) == expected.size(), "coalescing lost or invented connections");
  for (int64_t k = 0; k < count; ++k)
    require(expected.count({result[static_cast<size_t>(k)], result[static_cast<size_t>(count + k)]}) == 1,
            "coalescing invented a connection");
}

// check_sorted_connectivity throws exactly when the indices are not sorted, unique and in range.
bool check_sorted(const Tensor& indices, int64_t in_features, int64_t out_features) {
  bool valid = true;
  try {
    wisp::kernels::check_sorted_connectivity("fuzz", indices, out_features, in_features);
  } catch (const wisp::Error&) {
    valid = false;
  }
  const int64_t nnz = indices.size(1);
  const std::vector<int64_t> flat = indices.to_vector<int64_t>();
  bool expected = true;
  for (int64_t k = 0; k < nnz && expected; ++k) {
    const int64_t row = flat[static_cast<size_t>(k)], col = flat[static_cast<size_t>(nnz + k)];
    expected = row >= 0 && row < out_features && col >= 0 && col < in_features &&
               (k == 0 || flat[static_cast<size_t>(k - 1)] < row ||
                (flat[static_cast<size_t>(k - 1)] == row && flat[static_cast<size_t>(nnz + k - 1)] < col));
  }
  require(valid == expected, "check_sorted_connectivity disagrees with the definition");
  return valid;
}

// Sizes whose structure arrays are small, or too large for any allocation (refused before one):
// the sizes in between would make make_sparse_structure allocate and fill gigabytes, legitimately.
bool structure_size_is_cheap(int64_t features) {
  return features <= (int64_t{1} << 16) || features >= (int64_t{1} << 60);
}

void check_structure(const Tensor& indices, int64_t in_features, int64_t out_features, bool force_int32) {
  if (!structure_size_is_cheap(in_features) || !structure_size_is_cheap(out_features)) return;
  wisp::SparseStructure structure;
  try {
    structure = force_int32 ? wisp::kernels::make_sparse_structure(indices, out_features, in_features, DType::Int32)
                            : wisp::kernels::make_sparse_structure(indices, out_features, in_features);
  } catch (const wisp::Error&) {
    return;
  }
  const int64_t nnz = indices.size(1);
  const std::vector<int64_t> flat = indices.to_vector<int64_t>();
  require(structure.nnz() == nnz, "the structure's nnz differs from the indices'");
  // 16-bit feature indices exactly where a side has at most 65536 features (unless forced wider).
  const wisp::SparseIndexDTypes dtypes = structure.index_dtypes();
  require(force_int32 ? dtypes == wisp::SparseIndexDTypes::uniform(DType::Int32)
                      : dtypes == wisp::SparseIndexDTypes::smallest(nnz, out_features, in_features),
          "the structure's index dtypes are not the expected ones");
  const std::vector<int64_t> row_pointers = as_int64(structure.row_pointers);
  const std::vector<int64_t> columns = as_int64(structure.column_indices);
  const std::vector<int64_t> column_pointers = as_int64(structure.column_pointers);
  const std::vector<int64_t> row_indices = as_int64(structure.row_indices);
  const std::vector<int64_t> csc_to_value = as_int64(structure.csc_to_value);
  require(row_pointers.size() == static_cast<size_t>(out_features) + 1 && row_pointers.front() == 0 &&
              row_pointers.back() == nnz && std::is_sorted(row_pointers.begin(), row_pointers.end()),
          "bad row pointers");
  for (int64_t row = 0; row < out_features; ++row)
    for (int64_t k = row_pointers[static_cast<size_t>(row)]; k < row_pointers[static_cast<size_t>(row) + 1]; ++k)
      require(
          flat[static_cast<size_t>(k)] == row && columns[static_cast<size_t>(k)] == flat[static_cast<size_t>(nnz + k)],
          "CSR disagrees with the indices");
  require(column_pointers.size() == static_cast<size_t>(in_features) + 1 && column_pointers.front() == 0 &&
              column_pointers.back() == nnz && std::is_sorted(column_pointers.begin(), column_pointers.end()),
          "bad column pointers");
  std::vector<bool> seen(static_cast<size_t>(nnz), false);
  for (int64_t col = 0; col < in_features; ++col) {
    for (int64_t c = column_pointers[static_cast<size_t>(col)]; c < column_pointers[static_cast<size_t>(col) + 1];
         ++c) {
      const int64_t value = csc_to_value[static_cast<size_t>(c)];
      require(value >= 0 && value < nnz && !seen[static_cast<size_t>(value)], "csc_to_value is not a permutation");
      seen[static_cast<size_t>(value)] = true;
      require(flat[static_cast<size_t>(nnz + value)] == col &&
                  flat[static_cast<size_t>(value)] == row_indices[static_cast<size_t>(c)],
              "CSC disagrees with the indices");
    }
  }
}

void check_builders(Reader& reader, int64_t in_features, int64_t out_features) {
  // Random connectivity takes O(nnz) time and memory whatever the shape: any sizes, a few connections.
  const int64_t nnz = 1 + reader.byte() % 64;
  const uint64_t seed = reader.byte();
  try {
    require_sorted(wisp::nn::random_connectivity(in_features, out_features, nnz, seed), in_features, out_features);
  } catch (const wisp::Error&) {
  }
  // Small-world takes O(in + out) per bisection step: small layers only.
  if (in_features > 64 || out_features > 64) return;
  const double sparsity = reader.byte() / 256.0;
  try {
    require_sorted(wisp::nn::small_world_connectivity(in_features, out_features, sparsity, seed), in_features,
                   out_features);
  } catch (const wisp::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader reader{data, size};
  const uint8_t mode = reader.byte();
  const bool wide_sizes = mode & 1, wide_indices = mode & 2, force_int32 = mode & 4;
  const int64_t in_features = wide_sizes ? reader.wide() : reader.byte() % 65;
  const int64_t out_features = wide_sizes ? reader.wide() : reader.byte() % 65;
  check_builders(reader, in_features, out_features);

  std::vector<int64_t> values;
  while (!reader.empty()) values.push_back(wide_indices ? reader.wide() : int64_t{reader.byte()} - 4);
  const int64_t nnz = static_cast<int64_t>(values.size() / 2);
  values.resize(static_cast<size_t>(2 * nnz));
  const Tensor indices = wisp::from_vector(values, {2, nnz});

  check_coalesce(indices, in_features, out_features);
  check_sorted(indices, in_features, out_features);
  check_structure(indices, in_features, out_features, force_int32);
  return 0;
}
