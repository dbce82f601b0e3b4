// CPU kernels of RigL's connection update (kernels/rigl.h).
#include "kernels/cpu/rigl.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

// GCC 12 reports a false "may be used uninitialized" inside Eigen's AVX-512 GEMM packing (as in
// kernels/cpu/linear.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop

#include "kernels/cpu/parallel.h"

namespace wisp::kernels::cpu {
namespace {

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMatrixMap = Eigen::Map<const RowMajorMatrix>;
using MatrixMap = Eigen::Map<RowMajorMatrix>;

template <class T>
const T* pointer(const Tensor& t) {
  return static_cast<const T*>(t.raw_data());
}
template <class T>
T* mutable_pointer(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}

// Calls function(TypeTag<Index>) for the structure's index dtype (Int32 or Int64).
template <class Function>
void visit_index(DType dtype, Function&& function) {
  if (dtype == DType::Int32) {
    function(TypeTag<int32_t>{});
  } else {
    function(TypeTag<int64_t>{});
  }
}

// A growth candidate: |G| at a position. `better` is the one total order every choice uses —
// larger magnitude first, then lower position — so that the result is unique whatever the tiling
// and the thread count.
struct Candidate {
  float score;
  int64_t position;
};
inline bool better(const Candidate& a, const Candidate& b) {
  return a.score > b.score || (a.score == b.score && a.position < b.position);
}

// The best `k` candidates of a stream in O(k) memory: candidates collect in a buffer of up to 2k;
// a full buffer is cut back to its best k with nth_element (O(k), so O(1) amortised per push), and
// from then on only candidates better than the k-th best so far are admitted.
class RunningTopK {
 public:
  explicit RunningTopK(int64_t k) : k_(static_cast<size_t>(k)) { buffer_.reserve(std::max<size_t>(2 * k_, 16)); }

  // The magnitude below which nothing can enter (−1 while fewer than k were seen: everything can).
  float admission_score() const { return full_ ? worst_.score : -1.0f; }

  void push(float score, int64_t position) {
    const Candidate candidate{score, position};
    if (full_ && !better(candidate, worst_)) return;
    buffer_.push_back(candidate);
    if (buffer_.size() >= std::max<size_t>(2 * k_, 16)) cut();
  }

  // The best k (or fewer, if fewer were pushed), in no particular order.
  std::vector<Candidate>& finish() {
    if (buffer_.size() > k_) cut();
    return buffer_;
  }

 private:
  void cut() {
    std::nth_element(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(k_ - 1), buffer_.end(), better);
    buffer_.resize(k_);
    worst_ = buffer_[k_ - 1];  // nth_element leaves only better candidates before it
    full_ = true;
  }

  size_t k_;
  std::vector<Candidate> buffer_;
  Candidate worst_{0.0f, 0};
  bool full_ = false;
};

}  // namespace

// values [nnz] float32; mask UInt8 [nnz]. The count-th smallest magnitude is found with
// nth_element on a copy of the magnitudes; everything below it is dropped, and of the magnitudes
// equal to it the lowest indices until `count` is reached.
void smallest_magnitude_mask(const Tensor& values, int64_t count, const Tensor& mask) {
  const int64_t nnz = values.numel();
  const float* v = pointer<float>(values);
  uint8_t* m = mutable_pointer<uint8_t>(mask);
  std::fill(m, m + nnz, uint8_t(0));
  if (count == 0) return;
  std::vector<float> magnitudes(static_cast<size_t>(nnz));
  for (int64_t k = 0; k < nnz; ++k) magnitudes[static_cast<size_t>(k)] = std::fabs(v[k]);
  std::nth_element(magnitudes.begin(), magnitudes.begin() + (count - 1), magnitudes.end());
  const float threshold = magnitudes[static_cast<size_t>(count - 1)];
  int64_t taken = 0;
  for (int64_t k = 0; k < nnz; ++k) {
    if (std::fabs(v[k]) < threshold) {
      m[k] = 1;
      ++taken;
    }
  }
  for (int64_t k = 0; k < nnz && taken < count; ++k) {
    if (std::fabs(v[k]) == threshold) {
      m[k] = 1;
      ++taken;
    }
  }
}

// grad_output g [rows, out], input x [rows, in] batch-major; kept UInt8 [nnz]; positions Int64
// [count]. The dense gradient G = gᵀ x [out, in] is cut into tiles of tile_rows × tile_columns
// (about tile_elements entries; whole rows of G when in is small). Threads take tiles dynamically;
// each computes its tile with Eigen's GEMM into its own buffer, overwrites the nonzeros that stay
// with −1 (magnitudes are ≥ 0, so they never compete) and feeds the rest to its own running top-k.
// The thread's best `count` are merged at the end: the global best `count` are among them, so the
// result is exact and independent of the tiling and the thread count.
void largest_absent_gradients(const Tensor& grad_output, const Tensor& input, const SparseStructure& structure,
                              const Tensor& kept, int64_t count, int64_t tile_elements, const Tensor& positions) {
  int64_t* result = mutable_pointer<int64_t>(positions);
  if (count == 0) return;
  const int64_t rows = grad_output.size(0), out = structure.out_features, in = structure.in_features;
  const ConstMatrixMap g(pointer<float>(grad_output), rows, out), x(pointer<float>(input), rows, in);
  const uint8_t* keep = pointer<uint8_t>(kept);
  constexpr int64_t kMaxTileColumns = 4096;  // rows of x's panel that Eigen packs per tile: 64 x 4096 floats = 1 MiB
  const int64_t tile_columns = std::min(in, kMaxTileColumns);
  const int64_t tile_rows = std::max<int64_t>(1, std::min(out, tile_elements / tile_columns));
  const int64_t row_tiles = (out + tile_rows - 1) / tile_rows, column_tiles = (in + tile_columns - 1) / tile_columns;
  const int64_t tiles = row_tiles * column_tiles;
  const int threads = std::max(1, static_cast<int>(std::min<int64_t>(omp_get_max_threads(), tiles)));
  std::vector<std::vector<Candidate>> best(static_cast<size_t>(threads));

  visit_index(structure.index_dtype(), [&](auto tag) {
    using Index = typename decltype(tag)::type;
    const Index* row_pointers = pointer<Index>(structure.row_pointers);
    const Index* column_indices = pointer<Index>(structure.column_indices);
#pragma omp parallel num_threads(threads)
    {
      RunningTopK top(count);
      RowMajorMatrix tile(tile_rows, tile_columns);
#pragma omp for schedule(dynamic, 1)
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t row_begin = t / column_tiles * tile_rows, column_begin = t % column_tiles * tile_columns;
        const int64_t height = std::min(tile_rows, out - row_begin), width = std::min(tile_columns, in - column_begin);
        // Inside a parallel region Eigen's GEMM runs on this thread alone.
        MatrixMap block(tile.data(), height, width);
        block.noalias() = g.middleCols(row_begin, height).transpose() * x.middleCols(column_begin, width);
        block = block.cwiseAbs();
        for (int64_t r = 0; r < height; ++r) {
          const int64_t o = row_begin + r;
          const Index* row_columns = column_indices + row_pointers[o];
          const Index* row_end = column_indices + row_pointers[o + 1];
          // The row's nonzeros inside [column_begin, column_begin + width): columns are sorted.
          for (const Index* c = std::lower_bound(row_columns, row_end, static_cast<Index>(column_begin));
               c < row_end && *c < column_begin + width; ++c) {
            if (keep[c - column_indices]) block(r, static_cast<int64_t>(*c) - column_begin) = -1.0f;
          }
          const float* scores = &block(r, 0);
          const int64_t position_base = o * in + column_begin;
          float admission = top.admission_score();
          for (int64_t i = 0; i < width; ++i) {
            if (scores[i] >= admission && scores[i] >= 0.0f) {
              top.push(scores[i], position_base + i);
              admission = top.admission_score();
            }
          }
        }
      }
      best[static_cast<size_t>(omp_get_thread_num())] = std::move(top.finish());
    }
  });

  std::vector<Candidate> merged;
  for (const auto& part : best) merged.insert(merged.end(), part.begin(), part.end());
  if (static_cast<int64_t>(merged.size()) > count) {
    std::nth_element(merged.begin(), merged.begin() + (count - 1), merged.end(), better);
    merged.resize(static_cast<size_t>(count));
  }
  std::sort(merged.begin(), merged.end(),
            [](const Candidate& a, const Candidate& b) { return a.position < b.position; });
  for (int64_t j = 0; j < count; ++j) result[j] = merged[static_cast<size_t>(j)].position;
}

// A merge of two increasing sequences of positions: the old nonzeros (in CSR order) and `grown`.
// Equal positions only happen for a dropped nonzero that is grown again (the dispatch point checked
// that no kept nonzero is grown).
void rewire_connections(const SparseStructure& structure, const Tensor& dropped, const Tensor& grown,
                        const RewiredConnections& result) {
  const int64_t in = structure.in_features, out = structure.out_features;
  const int64_t new_nnz = result.source.numel(), count = grown.numel();
  const uint8_t* drop = pointer<uint8_t>(dropped);
  const int64_t* grow = pointer<int64_t>(grown);
  int64_t* new_rows = mutable_pointer<int64_t>(result.indices);
  int64_t* new_columns = new_rows + new_nnz;
  int64_t* source = mutable_pointer<int64_t>(result.source);
  int64_t j = 0, next_grown = 0;
  const auto emit = [&](int64_t position, int64_t from) {
    new_rows[j] = position / in;
    new_columns[j] = position % in;
    source[j] = from;
    ++j;
  };
  visit_index(structure.index_dtype(), [&](auto tag) {
    using Index = typename decltype(tag)::type;
    const Index* row_pointers = pointer<Index>(structure.row_pointers);
    const Index* column_indices = pointer<Index>(structure.column_indices);
    for (int64_t o = 0; o < out; ++o) {
      for (Index k = row_pointers[o]; k < row_pointers[o + 1]; ++k) {
        const int64_t position = o * in + static_cast<int64_t>(column_indices[k]);
        while (next_grown < count && grow[next_grown] < position) emit(grow[next_grown++], -1);
        const bool regrown = next_grown < count && grow[next_grown] == position;
        if (regrown) ++next_grown;
        if (!drop[k] || regrown) emit(position, static_cast<int64_t>(k));
      }
    }
  });
  while (next_grown < count) emit(grow[next_grown++], -1);
}

// tensor float32 [n]; source Int64 [n].
void gather_or_zero_(const Tensor& tensor, const Tensor& source) {
  const int64_t n = tensor.numel();
  float* t = mutable_pointer<float>(tensor);
  const int64_t* from = pointer<int64_t>(source);
  const std::vector<float> old(t, t + n);
  for (int64_t j = 0; j < n; ++j) t[j] = from[j] >= 0 ? old[static_cast<size_t>(from[j])] : 0.0f;
}

}  // namespace wisp::kernels::cpu
