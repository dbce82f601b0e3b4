// CPU twins of RigL's rewiring (kernels/rigl.h): the merge of staying and grown connections into
// the new (row, col) order, and the permutation of per-connection state that follows it.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/rigl.h"

namespace wisp::kernels::cpu {

// dropped UInt8 [nnz] over `structure`; grown Int64 [count] increasing positions o · in + i;
// result.indices Int64 [2, new_nnz] (rows, then columns) and result.source Int64 [new_nnz].
// A merge of two increasing sequences of positions: the old nonzeros (in CSR order) and `grown`.
// Equal positions only happen for a dropped nonzero that is grown again (checked while merging:
// no staying nonzero is grown). Returns how many grown positions had no connection.
int64_t rewire_connections(const SparseStructure& structure, const Tensor& dropped, const Tensor& grown,
                           const RewiredConnections& result) {
  const int64_t in = structure.in_features, out = structure.out_features;
  const int64_t new_nnz = result.source.numel(), count = grown.numel();
  const uint8_t* drop = pointer<uint8_t>(dropped);
  const int64_t* grow = pointer<int64_t>(grown);
  int64_t* new_rows = mutable_pointer<int64_t>(result.indices);
  int64_t* new_columns = new_rows + new_nnz;
  int64_t* source = mutable_pointer<int64_t>(result.source);
  const int64_t cells = out * in;
  for (int64_t g = 0; g < count; ++g) {
    WISP_CHECK(grow[g] >= 0 && grow[g] < cells, "rewire_connections: grown position ", grow[g], " out of range [0, ",
               cells, ")");
    WISP_CHECK(g == 0 || grow[g] > grow[g - 1], "rewire_connections: expected increasing grown positions, but ",
               grow[g], " follows ", grow[g - 1]);
  }
  int64_t j = 0, next_grown = 0, new_connections = 0;
  const auto emit = [&](int64_t position, int64_t from) {
    new_connections += from < 0;
    new_rows[j] = position / in;
    new_columns[j] = position % in;
    source[j] = from;
    ++j;
  };
  const SparseIndexDTypes dtypes = structure.index_dtypes();
  visit_pointer_and_feature_index(dtypes.pointers, dtypes.columns, [&](auto tag, auto column_tag) {
    using Index = typename decltype(tag)::type;
    using Column = typename decltype(column_tag)::type;
    const Index* row_pointers = pointer<Index>(structure.row_pointers);
    const Column* column_indices = pointer<Column>(structure.column_indices);
    for (int64_t o = 0; o < out; ++o) {
      for (Index k = row_pointers[o]; k < row_pointers[o + 1]; ++k) {
        const int64_t position = o * in + static_cast<int64_t>(column_indices[k]);
        while (next_grown < count && grow[next_grown] < position) emit(grow[next_grown++], -1);
        const bool regrown = next_grown < count && grow[next_grown] == position;
        WISP_CHECK(!regrown || drop[k], "rewire_connections: grown position ", position, " (", o, ", ",
                   column_indices[k], ") is a nonzero that is not dropped");
        if (regrown) ++next_grown;
        if (!drop[k] || regrown) emit(position, static_cast<int64_t>(k));
      }
    }
  });
  while (next_grown < count) emit(grow[next_grown++], -1);
  return new_connections;
}

// tensor float32 [n]; source Int64 [n]. Checks every source before writing, so that an error
// leaves tensor as it was.
void gather_or_zero_(const Tensor& tensor, const Tensor& source) {
  const int64_t n = tensor.numel();
  float* t = mutable_pointer<float>(tensor);
  const int64_t* from = pointer<int64_t>(source);
  for (int64_t j = 0; j < n; ++j)
    WISP_CHECK(from[j] < n, "gather_or_zero_: expected every source below the size ", n,
               " (negative: zero) but source[", j, "] = ", from[j]);
  const std::vector<float> old(t, t + n);
  for (int64_t j = 0; j < n; ++j) t[j] = from[j] >= 0 ? old[static_cast<size_t>(from[j])] : 0.0f;
}

}  // namespace wisp::kernels::cpu
