// kernels/cpu/sparse_linear_skip_zeros.h: the forward over the CSC order that reads only the columns
// of nonzero inputs.
#include "wisp/kernels/cpu/sparse_linear_skip_zeros.h"

#include <omp.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cpu/parallel.h"
#include "wisp/kernels/cpu/sparse_simd.h"

namespace wisp::kernels::cpu {
namespace {

using sparse_detail::with_tile_width;

// Adds w · x[r, i] into y[r, row] for the nonzeros of the active columns [begin, end), with the
// values in CSC order; y is [Rows, out] batch-major. Within a column the rows are distinct.
template <int Rows, class Pointer, class RowIndex>
void scatter_columns(const Pointer* column_pointers, const RowIndex* row_indices, const float* csc_values,
                     const float* x, int64_t stride, const int64_t* features, int64_t begin, int64_t end, float* y,
                     int64_t out) {
  for (int64_t j = begin; j < end; ++j) {
    const int64_t i = features[j];
    float input[Rows];
    for (int r = 0; r < Rows; ++r) input[r] = x[i * stride + r];
    const int64_t k_end = static_cast<int64_t>(column_pointers[i + 1]);
    for (int64_t k = static_cast<int64_t>(column_pointers[i]); k < k_end; ++k) {
      const float w = csc_values[k];
      float* target = y + static_cast<int64_t>(row_indices[k]);
      for (int r = 0; r < Rows; ++r) target[r * out] += w * input[r];
    }
  }
}

template <int Rows, class Pointer, class RowIndex>
void forward_skip_zeros(const FeatureMajor& input, const ActiveInputs& active, const Tensor& csc_values,
                        const SparseStructure& structure, const Tensor& bias, const Tensor& output) {
  const int64_t out = structure.out_features, stride = input.stride();
  const Pointer* column_pointers = pointer<Pointer>(structure.column_pointers);
  const RowIndex* row_indices = pointer<RowIndex>(structure.row_indices);
  const float* w = pointer<float>(csc_values);
  const float* x = pointer<float>(input.data);
  const float* init = bias.defined() ? pointer<float>(bias) : nullptr;
  float* y = mutable_pointer<float>(output);
  const int64_t* features = active.features.data();
  const int64_t count = static_cast<int64_t>(active.features.size());

  // work_prefix[j]: the nonzeros (plus one per column) of the active columns before j, for
  // splitting them evenly between threads.
  std::vector<int64_t> work_prefix(static_cast<size_t>(count) + 1, 0);
  for (int64_t j = 0; j < count; ++j) {
    const int64_t i = features[j];
    work_prefix[static_cast<size_t>(j) + 1] = work_prefix[static_cast<size_t>(j)] + 1 +
                                              static_cast<int64_t>(column_pointers[i + 1]) -
                                              static_cast<int64_t>(column_pointers[i]);
  }
  const int64_t total = work_prefix.back();
  const bool parallel = total * Rows > kParallelThreshold;
  const int64_t max_threads = parallel ? omp_get_max_threads() : 1;
  // Thread 0 scatters into the output itself; thread t > 0 into private[t − 1], added afterwards.
  const int64_t size = Rows * out;
  std::unique_ptr<float[]> private_outputs(max_threads > 1 ? new float[static_cast<size_t>((max_threads - 1) * size)]
                                                           : nullptr);
#pragma omp parallel if (parallel)
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    float* target = thread == 0 ? y : private_outputs.get() + (thread - 1) * size;
    if (thread == 0 && init) {
      for (int r = 0; r < Rows; ++r) std::copy(init, init + out, y + r * out);
    } else {
      std::fill(target, target + size, 0.0f);
    }
    const auto first_column = [&](int64_t part) {  // first j with work_prefix[j] >= part/threads of total
      const int64_t goal = total / threads * part + total % threads * part / threads;
      return static_cast<int64_t>(std::lower_bound(work_prefix.begin(), work_prefix.end(), goal) - work_prefix.begin());
    };
    const int64_t begin = thread == 0 ? 0 : first_column(thread);
    const int64_t end = thread + 1 == threads ? count : first_column(thread + 1);
    if (begin < end)
      scatter_columns<Rows>(column_pointers, row_indices, w, x, stride, features, begin, end, target, out);
    if (threads > 1) {
#pragma omp barrier
#pragma omp for schedule(static)
      for (int64_t e = 0; e < size; ++e) {
        float sum = y[e];
        for (int64_t t = 1; t < threads; ++t) sum += private_outputs[static_cast<size_t>((t - 1) * size + e)];
        y[e] = sum;
      }
    }
  }
}

// The CSC-ordered copies made so far, most recently used last. Each is valid while its values and
// its permutation are the same storage at the same version; an entry whose values were freed goes at
// the next lookup, and beyond kCachedCopies the least recently used goes.
constexpr size_t kCachedCopies = 16;

struct CscCopy {
  std::weak_ptr<Storage> values_storage, permutation_storage;
  const void* values_data = nullptr;
  const void* permutation_data = nullptr;
  uint64_t values_version = 0, permutation_version = 0;
  Tensor copy;
};

std::mutex& csc_copies_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::vector<CscCopy>& csc_copies() {
  static std::vector<CscCopy> copies;
  return copies;
}

}  // namespace

Tensor csc_ordered_values(const Tensor& values, const SparseStructure& structure) {
  const Tensor& permutation = structure.csc_to_value;
  const std::shared_ptr<Storage>& values_storage = values.impl()->storage;
  const std::shared_ptr<Storage>& permutation_storage = permutation.impl()->storage;
  const std::lock_guard<std::mutex> lock(csc_copies_mutex());
  std::vector<CscCopy>& copies = csc_copies();
  copies.erase(std::remove_if(copies.begin(), copies.end(),
                              [](const CscCopy& entry) {
                                return entry.values_storage.expired() || entry.permutation_storage.expired();
                              }),
               copies.end());
  for (auto entry = copies.begin(); entry != copies.end(); ++entry) {
    if (entry->values_storage.lock() != values_storage || entry->values_data != values.raw_data()) continue;
    if (entry->values_version == values.version() && entry->permutation_storage.lock() == permutation_storage &&
        entry->permutation_data == permutation.raw_data() && entry->permutation_version == permutation.version()) {
      std::rotate(entry, entry + 1, copies.end());  // most recently used last
      return copies.back().copy;
    }
    copies.erase(entry);  // these values changed since: their old copy is no use
    break;
  }
  const int64_t nnz = structure.nnz();
  Tensor copy = empty({nnz}, DType::Float32);
  const float* source = pointer<float>(values);
  float* target = mutable_pointer<float>(copy);
  visit_index(permutation.dtype(), [&](auto tag) {
    using Pointer = typename decltype(tag)::type;
    const Pointer* csc_to_value = pointer<Pointer>(permutation);
#pragma omp parallel for schedule(static) if (nnz > kParallelThreshold)
    for (int64_t k = 0; k < nnz; ++k) target[k] = source[csc_to_value[k]];
  });
  if (copies.size() >= kCachedCopies) copies.erase(copies.begin());
  copies.push_back({values_storage, permutation_storage, values.raw_data(), permutation.raw_data(), values.version(),
                    permutation.version(), copy});
  return copy;
}

ActiveInputs find_active_inputs(const FeatureMajor& input) {
  ActiveInputs active;
  active.in_features = input.features();
  const int64_t rows = input.rows, stride = input.stride();
  const float* x = pointer<float>(input.data);
  active.features.resize(static_cast<size_t>(active.in_features));
  int64_t count = 0;
  for (int64_t i = 0; i < active.in_features; ++i) {
    bool nonzero = false;
    for (int64_t r = 0; r < rows; ++r) nonzero |= x[i * stride + r] != 0.0f;
    active.features[static_cast<size_t>(count)] = i;  // kept only when nonzero: no branch to mispredict
    count += nonzero;
  }
  active.features.resize(static_cast<size_t>(count));
  return active;
}

void sparse_linear_forward_skip_zeros(const FeatureMajor& input, const ActiveInputs& active, const Tensor& csc_values,
                                      const SparseStructure& structure, const Tensor& bias, const Tensor& output) {
  WISP_CHECK(input.rows >= 1 && input.rows <= kSkipZerosMaxRows, "sparse_linear_forward_skip_zeros: expected 1 to ",
             kSkipZerosMaxRows, " rows but got ", input.rows);
  visit_index(structure.column_pointers.dtype(), [&](auto pointer_tag) {
    using Pointer = typename decltype(pointer_tag)::type;
    visit_index(structure.row_indices.dtype(), [&](auto row_tag) {
      using RowIndex = typename decltype(row_tag)::type;
      const auto run = [&](auto rows_tag) {
        forward_skip_zeros<decltype(rows_tag)::value, Pointer, RowIndex>(input, active, csc_values, structure, bias,
                                                                         output);
      };
      with_tile_width(static_cast<int>(input.rows), run);
    });
  });
}

}  // namespace wisp::kernels::cpu
