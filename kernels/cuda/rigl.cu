// CUDA twins of RigL's connection update (kernels/cuda/rigl.h).
//
// drop    smallest_magnitude_mask: a radix select (kernels/rigl_math.h) over the keys (|w|, tie
//         rank): one histogram pass over the values per digit, the host picking each digit's
//         bucket, then one pass writing the mask. No memory beyond a 2048-bucket histogram.
// grow    largest_absent_gradients: the same select over the keys (|G[o, i]|, tie rank) of the
//         positions not kept, where every pass recomputes G = gᵀ x block by block in registers and
//         drops each entry right after use: nothing of G is stored, so memory is O(count) (the
//         selected positions) whatever the layer's size. A last pass collects the selected
//         positions, and CUB's radix sort puts them in increasing order. Each entry is summed in
//         one fixed order (r = 0, 1, ... with fmaf), so every pass sees the same scores and the
//         result does not depend on tile_elements or on the launch geometry. Typically three or four
//         passes: two or three digits of the magnitude, then the collection; the tie rank's digits
//         only run when equal magnitudes straddle the count (as with an all-zero gradient).
// rewire  merge by rank instead of a serial merge: a staying nonzero's new index is the number of
//         staying nonzeros before it (CUB's exclusive scan) plus the grown positions below it (binary
//         search in `grown`); a grown position's is its index in `grown` plus the staying nonzeros
//         below it (binary search in its CSR row, then the scan).
#include "wisp/kernels/cuda/rigl.h"

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <limits>
#include <vector>

#include "wisp/kernels/access.h"
#include "wisp/kernels/cuda/launch.h"
#include "wisp/kernels/rigl_math.h"

namespace wisp::kernels::cuda {
namespace {

using Count = unsigned long long;  // the type of CUDA's 64-bit atomics

// Histogram passes: enough blocks to fill the GPU; each accumulates in shared memory and adds its
// non-empty buckets to the global histogram once, at its end.
constexpr int64_t kMaxHistogramBlocks = 1024;
constexpr int64_t kMaxGrowBlocks = 2048;

// Scratch device memory from the caching allocator, released with the tensor.
Tensor scratch(int64_t elements, DType dtype, const Device& device) {
  return empty({std::max<int64_t>(elements, 1)}, TensorOptions(dtype).device(device));
}

void zero_device(const Tensor& t) { zero_on_device(t.raw_data(), t.nbytes()); }

// A device histogram [kRiglDigitBuckets] of 64-bit counts, read back on the host (which synchronises).
std::vector<int64_t> read_counts(const Tensor& histogram) { return histogram.to_vector<int64_t>(); }

// Adds the block's shared counts [kRiglDigitBuckets] to the global histogram.
__device__ void flush_counts(const uint32_t* counts, Count* histogram) {
  __syncthreads();  // every thread's additions to `counts` are done
  for (int b = threadIdx.x; b < kRiglDigitBuckets; b += blockDim.x)
    if (counts[b] != 0) atomicAdd(histogram + b, static_cast<Count>(counts[b]));
}

__device__ void clear_counts(uint32_t* counts) {
  for (int b = threadIdx.x; b < kRiglDigitBuckets; b += blockDim.x) counts[b] = 0;
  // The first reader is behind a __syncthreads() of the caller.
}

// The first index in [begin, end) whose data[index] >= value (end if none); data increasing there.
template <class T>
__device__ int64_t lower_bound_in(const T* data, int64_t begin, int64_t end, int64_t value) {
  while (begin < end) {
    const int64_t middle = begin + (end - begin) / 2;
    if (static_cast<int64_t>(data[middle]) < value) begin = middle + 1;
    else end = middle;
  }
  return begin;
}

// The row o of nonzero k: row_pointers[o] <= k < row_pointers[o + 1] (empty rows skipped).
template <class Index>
__device__ int64_t row_of_nonzero(const Index* row_pointers, int64_t out, int64_t k) {
  int64_t low = 0, high = out;
  while (high - low > 1) {
    const int64_t middle = (low + high) / 2;
    if (static_cast<int64_t>(row_pointers[middle]) <= k) low = middle;
    else high = middle;
  }
  return low;
}

// ---- drop ----------------------------------------------------------------------------------------------

// histogram [kRiglDigitBuckets] += counts of digit `digit` among the drop keys of values [n] that
// match the prefix.
__global__ void drop_histogram_kernel(int64_t n, const float* values, uint64_t tie_seed, RiglKeyPrefix prefix,
                                      int digit, Count* histogram) {
  __shared__ uint32_t counts[kRiglDigitBuckets];
  clear_counts(counts);
  __syncthreads();
  for (int64_t k = grid_first(); k < n; k += grid_step()) {
    const RiglKey key = rigl_drop_key(values[k], k, tie_seed);
    if (prefix.matches(key)) atomicAdd(counts + RiglKeyPrefix::bucket(key, digit), 1u);
  }
  flush_counts(counts, histogram);
}

// mask [n] = 1 where the drop key of values[k] is selected (at most the final prefix).
__global__ void drop_mask_kernel(int64_t n, const float* values, uint64_t tie_seed, RiglKeyPrefix prefix,
                                 uint8_t* mask) {
  for (int64_t k = grid_first(); k < n; k += grid_step())
    mask[k] = prefix.at_most(rigl_drop_key(values[k], k, tie_seed)) ? 1 : 0;
}

// ---- grow ----------------------------------------------------------------------------------------------

// A block computes G on a kTile × kTile block of entries; its 256 threads hold 4 × 4 each, at rows
// ty + 16a and columns tx + 16b of the block (a, b < 4), so that a warp's shared-memory reads are
// broadcasts or consecutive. Batch rows come in chunks of kChunk through shared memory.
constexpr int kTile = 64;
constexpr int kChunk = 16;
constexpr int kSide = 16;  // threads per side of the block: kSide² = kThreadsPerBlock
constexpr int kPerThread = kTile / kSide;
static_assert(kSide * kSide == kThreadsPerBlock, "the grow kernel maps one thread to 4 x 4 entries of a 64 x 64 tile");

// One pass of the grow select over rows [row_begin, row_end) of G [out, in], G = gᵀ x.
template <class Index>
struct GrowPass {
  const float* g = nullptr;  // grad_output [rows, out]
  const float* x = nullptr;  // input [rows, in]
  int64_t rows = 0, out = 0, in = 0;
  int64_t row_begin = 0, row_end = 0;
  const Index* row_pointers = nullptr;
  const Index* column_indices = nullptr;
  const uint8_t* dropped = nullptr;  // [nnz]: 1 where a nonzero competes, 0 where it stays
  uint64_t tie_seed = 0;
  RiglKeyPrefix prefix;
  int digit = 0;                 // histogram passes: the digit counted
  Count* histogram = nullptr;    // [kRiglDigitBuckets]
  int64_t* positions = nullptr;  // collection pass: [count], in no order
  Count* collected = nullptr;    // how many positions the collection found
  int64_t count = 0;
};

// words [2]: bit b set when column i0 + b of row o holds a nonzero that stays (o < row_end).
template <class Index>
__device__ void mark_staying(const GrowPass<Index>& p, int64_t o, int64_t i0, uint32_t* words) {
  words[0] = words[1] = 0;
  if (o >= p.row_end) return;
  const int64_t end = static_cast<int64_t>(p.row_pointers[o + 1]);
  for (int64_t k = lower_bound_in(p.column_indices, static_cast<int64_t>(p.row_pointers[o]), end, i0);
       k < end && static_cast<int64_t>(p.column_indices[k]) < i0 + kTile; ++k) {
    if (!p.dropped[k]) {
      const int64_t b = static_cast<int64_t>(p.column_indices[k]) - i0;
      words[b / 32] |= 1u << (b % 32);
    }
  }
}

// Histogram pass (kCollect false): p.histogram += counts of digit p.digit among the keys of the
// candidates (not staying, score not NaN) that match p.prefix. Collection pass: every candidate whose
// key is at most p.prefix goes to p.positions. Blocks take 64 × 64 tiles of the rows in turn.
template <class Index, bool kCollect>
__global__ void __launch_bounds__(kThreadsPerBlock) grow_pass_kernel(GrowPass<Index> p) {
  __shared__ float g_chunk[kChunk][kTile];         // g[r0 + kk, o0 + j]
  __shared__ float x_chunk[kChunk][kTile];         // x[r0 + kk, i0 + j]
  __shared__ uint32_t staying[kTile][kTile / 32];  // bit b of row a: G[o0 + a, i0 + b] stays
  __shared__ uint32_t counts[kRiglDigitBuckets];
  const int tx = static_cast<int>(threadIdx.x) % kSide, ty = static_cast<int>(threadIdx.x) / kSide;
  if (!kCollect) clear_counts(counts);
  const int64_t tile_rows = (p.row_end - p.row_begin + kTile - 1) / kTile;
  const int64_t tile_columns = (p.in + kTile - 1) / kTile;
  for (int64_t t = blockIdx.x; t < tile_rows * tile_columns; t += gridDim.x) {  // the same t for the whole block
    const int64_t o0 = p.row_begin + t / tile_columns * kTile, i0 = t % tile_columns * kTile;
    __syncthreads();  // the previous tile's readers of `staying` are done
    if (threadIdx.x < kTile) mark_staying(p, o0 + threadIdx.x, i0, staying[threadIdx.x]);
    float sums[kPerThread][kPerThread] = {};
    for (int64_t r0 = 0; r0 < p.rows; r0 += kChunk) {
      __syncthreads();  // the previous chunk's readers are done
      for (int e = threadIdx.x; e < kChunk * kTile; e += kThreadsPerBlock) {
        const int kk = e / kTile, j = e % kTile;
        const int64_t r = r0 + kk, o = o0 + j, i = i0 + j;
        // Zeros past the batch add nothing: fmaf(0, 0, s) == s up to the sign of a zero s.
        g_chunk[kk][j] = r < p.rows && o < p.row_end ? p.g[r * p.out + o] : 0.0f;
        x_chunk[kk][j] = r < p.rows && i < p.in ? p.x[r * p.in + i] : 0.0f;
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kChunk; ++kk) {
        float g_values[kPerThread], x_values[kPerThread];
#pragma unroll
        for (int a = 0; a < kPerThread; ++a) g_values[a] = g_chunk[kk][ty + kSide * a];
#pragma unroll
        for (int b = 0; b < kPerThread; ++b) x_values[b] = x_chunk[kk][tx + kSide * b];
#pragma unroll
        for (int a = 0; a < kPerThread; ++a)
#pragma unroll
          for (int b = 0; b < kPerThread; ++b) sums[a][b] = fmaf(g_values[a], x_values[b], sums[a][b]);
      }
    }
    __syncthreads();  // `staying` is complete (the chunk loop may not have run: rows == 0)
#pragma unroll
    for (int a = 0; a < kPerThread; ++a) {
#pragma unroll
      for (int b = 0; b < kPerThread; ++b) {
        const int row = ty + kSide * a, column = tx + kSide * b;
        const int64_t o = o0 + row, i = i0 + column;
        const float score = sums[a][b];
        if (o >= p.row_end || i >= p.in || isnan(score)) continue;
        if ((staying[row][column / 32] >> (column % 32)) & 1u) continue;
        const int64_t position = o * p.in + i;
        const RiglKey key = rigl_grow_key(score, position, p.tie_seed);
        if (kCollect) {
          if (p.prefix.at_most(key)) {
            const Count slot = atomicAdd(p.collected, Count(1));
            if (slot < static_cast<Count>(p.count))
              p.positions[slot] = position;  // more is a bug, reported by the host
          }
        } else if (p.prefix.matches(key)) {
          atomicAdd(counts + RiglKeyPrefix::bucket(key, p.digit), 1u);
        }
      }
    }
  }
  if (!kCollect) flush_counts(counts, p.histogram);
}

// Runs one pass over all of G, launch by launch of at most launch_rows rows of G.
template <class Index, bool kCollect>
void run_grow_pass(GrowPass<Index> pass, int64_t launch_rows) {
  const int64_t tile_columns = (pass.in + kTile - 1) / kTile;
  for (int64_t row_begin = 0; row_begin < pass.out; row_begin += launch_rows) {
    pass.row_begin = row_begin;
    pass.row_end = std::min(pass.out, row_begin + launch_rows);
    const int64_t tiles = (pass.row_end - row_begin + kTile - 1) / kTile * tile_columns;
    const int64_t blocks = std::min(tiles, kMaxGrowBlocks);
    launch_blocks(grow_pass_kernel<Index, kCollect>, dim3(static_cast<unsigned>(blocks)), dim3(kThreadsPerBlock), pass);
  }
}

// positions [count] sorted in place (each in [0, cells)), through a scratch copy: CUB's radix sort
// over the bits that cells needs.
void sort_positions(const Tensor& positions, int64_t count, int64_t cells) {
  int end_bit = 1;
  while (end_bit < 63 && (int64_t(1) << end_bit) < cells) ++end_bit;
  const Tensor unsorted = scratch(count, DType::Int64, positions.device());
  copy_within_device(unsorted.raw_data(), positions.raw_data(), static_cast<size_t>(count) * sizeof(int64_t));
  // Positions are >= 0: sorted as unsigned keys.
  const auto* keys_in = pointer<uint64_t>(unsorted);
  auto* keys_out = mutable_pointer<uint64_t>(positions);
  size_t temporary_bytes = 0;
  WISP_CUDA_CHECK(
      cub::DeviceRadixSort::SortKeys(nullptr, temporary_bytes, keys_in, keys_out, count, 0, end_bit, current_stream()));
  const Tensor temporary = scratch(static_cast<int64_t>(temporary_bytes), DType::UInt8, positions.device());
  WISP_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(temporary.raw_data(), temporary_bytes, keys_in, keys_out, count, 0,
                                                 end_bit, current_stream()));
}

// ---- rewire --------------------------------------------------------------------------------------------

// Checks grown [count] as the CPU twin does, and counts the regrown positions. report [3]:
// [0] the first j out of [0, cells) or not above grown[j - 1]; [1] the first j that is a staying
// nonzero; [2] how many are dropped nonzeros (regrown). [0] and [1] start at the largest Count.
template <class Index>
__global__ void check_grown_kernel(int64_t count, const int64_t* grown, int64_t cells, int64_t in,
                                   const Index* row_pointers, const Index* column_indices, const uint8_t* dropped,
                                   Count* report) {
  for (int64_t j = grid_first(); j < count; j += grid_step()) {
    const int64_t position = grown[j];
    if (position < 0 || position >= cells || (j > 0 && position <= grown[j - 1])) {
      atomicMin(report, static_cast<Count>(j));
      continue;
    }
    const int64_t o = position / in, i = position % in, end = static_cast<int64_t>(row_pointers[o + 1]);
    const int64_t k = lower_bound_in(column_indices, static_cast<int64_t>(row_pointers[o]), end, i);
    if (k < end && static_cast<int64_t>(column_indices[k]) == i) {
      if (dropped[k]) atomicAdd(report + 2, Count(1));
      else atomicMin(report + 1, static_cast<Count>(j));
    }
  }
}

// flags [nnz + 1]: 1 where nonzero k stays, 0 where it is dropped and at the end (the scan's total).
__global__ void staying_flags_kernel(int64_t n, const uint8_t* dropped, int64_t nnz, int64_t* flags) {
  for (int64_t k = grid_first(); k < n; k += grid_step()) flags[k] = k < nnz && !dropped[k] ? 1 : 0;
}

// Staying nonzero k -> new index staying_before[k] + (grown positions below its position).
template <class Index>
__global__ void place_staying_kernel(int64_t nnz, const Index* row_pointers, int64_t out, const Index* column_indices,
                                     int64_t in, const uint8_t* dropped, const int64_t* staying_before,
                                     const int64_t* grown, int64_t count, int64_t* new_rows, int64_t* new_columns,
                                     int64_t* source) {
  for (int64_t k = grid_first(); k < nnz; k += grid_step()) {
    if (dropped[k]) continue;
    const int64_t o = row_of_nonzero(row_pointers, out, k), i = static_cast<int64_t>(column_indices[k]);
    const int64_t j = staying_before[k] + lower_bound_in(grown, 0, count, o * in + i);
    new_rows[j] = o;
    new_columns[j] = i;
    source[j] = k;
  }
}

// Grown position grown[g] -> new index g + (staying nonzeros below it); its source is the dropped
// nonzero at that position (regrown) or -1.
template <class Index>
__global__ void place_grown_kernel(int64_t count, const int64_t* grown, int64_t in, const Index* row_pointers,
                                   const Index* column_indices, const int64_t* staying_before, int64_t* new_rows,
                                   int64_t* new_columns, int64_t* source) {
  for (int64_t g = grid_first(); g < count; g += grid_step()) {
    const int64_t o = grown[g] / in, i = grown[g] % in, end = static_cast<int64_t>(row_pointers[o + 1]);
    const int64_t k = lower_bound_in(column_indices, static_cast<int64_t>(row_pointers[o]), end, i);
    const int64_t j = g + staying_before[k];  // nonzeros before k are the ones below the position
    new_rows[j] = o;
    new_columns[j] = i;
    source[j] = k < end && static_cast<int64_t>(column_indices[k]) == i ? k : -1;
  }
}

// report [1]: lowers to the first j whose source[j] is not below n.
__global__ void check_gather_source_kernel(int64_t n, const int64_t* source, Count* report) {
  for (int64_t j = grid_first(); j < n; j += grid_step())
    if (source[j] >= n) atomicMin(report, static_cast<Count>(j));
}

// tensor [n] = old[source[j]], or 0 where source[j] < 0.
__global__ void gather_or_zero_kernel(int64_t n, const float* old, const int64_t* source, float* tensor) {
  for (int64_t j = grid_first(); j < n; j += grid_step()) tensor[j] = source[j] >= 0 ? old[source[j]] : 0.0f;
}

int64_t read_one(const int64_t* device_value) {
  int64_t value = 0;
  copy_to_host(&value, device_value, sizeof value);
  return value;
}

}  // namespace

// values [nnz] float32; mask UInt8 [nnz].
void smallest_magnitude_mask(const Tensor& values, int64_t count, uint64_t tie_seed, const Tensor& mask) {
  const DeviceScope scope(values);
  const int64_t nnz = values.numel();
  if (nnz == 0) return;
  const float* v = pointer<float>(values);
  uint8_t* m = mutable_pointer<uint8_t>(mask);
  if (count == 0) {
    zero_device(mask);
    return;
  }
  const Tensor histogram = scratch(kRiglDigitBuckets, DType::Int64, values.device());
  const int64_t blocks = std::min(blocks_for(nnz), kMaxHistogramBlocks);
  const RiglKeyPrefix prefix =
      rigl_radix_select(count, "values (smallest_magnitude_mask)", [&](const RiglKeyPrefix& current, int digit) {
        zero_device(histogram);
        launch_blocks(drop_histogram_kernel, dim3(static_cast<unsigned>(blocks)), dim3(kThreadsPerBlock), nnz, v,
                      tie_seed, current, digit, mutable_pointer<Count>(histogram));
        return read_counts(histogram);
      });
  launch(drop_mask_kernel, nnz, v, tie_seed, prefix, m);
}

// grad_output g [rows, out], input x [rows, in] batch-major; dropped UInt8 [nnz]; positions Int64
// [count]. tile_elements bounds the entries of G one launch covers (whole rows of G, at least one).
void largest_absent_gradients(const Tensor& grad_output, const Tensor& input, const SparseStructure& structure,
                              const Tensor& dropped, int64_t absent, int64_t count, uint64_t tie_seed,
                              int64_t tile_elements, const Tensor& positions) {
  if (count == 0) return;
  const DeviceScope scope(grad_output);
  const int64_t out = structure.out_features, in = structure.in_features;
  const int64_t launch_rows = std::clamp<int64_t>(tile_elements / in, 1, out);
  const Tensor histogram = scratch(kRiglDigitBuckets, DType::Int64, grad_output.device());
  const Tensor collected = scratch(1, DType::Int64, grad_output.device());
  // The grow passes read column indices in the pointers' dtype: 16-bit ones are widened once per
  // update, O(nnz) against the step's O(out · in · rows).
  const DType pointer_dtype = structure.row_pointers.dtype();
  const Tensor columns = structure.column_indices.dtype() == pointer_dtype ? structure.column_indices
                                                                           : structure.column_indices.to(pointer_dtype);
  visit_index(pointer_dtype, [&](auto tag) {
    using Index = typename decltype(tag)::type;
    GrowPass<Index> pass;
    pass.g = pointer<float>(grad_output);
    pass.x = pointer<float>(input);
    pass.rows = grad_output.size(0);
    pass.out = out;
    pass.in = in;
    pass.row_pointers = pointer<Index>(structure.row_pointers);
    pass.column_indices = pointer<Index>(columns);
    pass.dropped = pointer<uint8_t>(dropped);
    pass.tie_seed = tie_seed;
    pass.histogram = mutable_pointer<Count>(histogram);
    pass.positions = mutable_pointer<int64_t>(positions);
    pass.collected = mutable_pointer<Count>(collected);
    pass.count = count;
    pass.prefix =
        rigl_radix_select(count, "positions not kept with a gradient that is not NaN (largest_absent_gradients)",
                          [&](const RiglKeyPrefix& current, int digit) {
                            zero_device(histogram);
                            GrowPass<Index> counting = pass;
                            counting.prefix = current;
                            counting.digit = digit;
                            run_grow_pass<Index, false>(counting, launch_rows);
                            return read_counts(histogram);
                          });
    zero_device(collected);
    run_grow_pass<Index, true>(pass, launch_rows);
  });
  const int64_t found = read_one(pointer<int64_t>(collected));
  WISP_CHECK(found == count, "largest_absent_gradients (CUDA): the collection found ", found,
             " positions where the select counted ", count, " (a pass saw other scores than the previous ones)");
  sort_positions(positions, count, out * in);
}

// A merge by ranks (see the top of this file); the grown positions are checked first, as the CPU
// twin checks them, so that the placing kernels can trust them.
int64_t rewire_connections(const SparseStructure& structure, const Tensor& dropped, const Tensor& grown,
                           const RewiredConnections& result) {
  const DeviceScope scope(dropped);
  const int64_t in = structure.in_features, out = structure.out_features, nnz = structure.nnz();
  const int64_t count = grown.numel(), new_nnz = result.source.numel(), cells = out * in;
  const int64_t* grow = pointer<int64_t>(grown);
  const uint8_t* drop = pointer<uint8_t>(dropped);
  int64_t* new_rows = mutable_pointer<int64_t>(result.indices);
  int64_t* new_columns = new_rows + new_nnz;
  int64_t* source = mutable_pointer<int64_t>(result.source);
  int64_t regrown = 0;
  // The checks read column indices in the pointers' dtype (16-bit ones widened, O(nnz) per update).
  const DType pointer_dtype = structure.row_pointers.dtype();
  const Tensor columns = structure.column_indices.dtype() == pointer_dtype ? structure.column_indices
                                                                           : structure.column_indices.to(pointer_dtype);
  visit_index(pointer_dtype, [&](auto tag) {
    using Index = typename decltype(tag)::type;
    const Index* row_pointers = pointer<Index>(structure.row_pointers);
    const Index* column_indices = pointer<Index>(columns);

    constexpr Count kNone = std::numeric_limits<Count>::max();
    std::vector<Count> report = {kNone, kNone, 0};
    const Tensor report_device = scratch(3, DType::Int64, dropped.device());
    copy_to_device(report_device.raw_data(), report.data(), 3 * sizeof(Count));
    launch(check_grown_kernel<Index>, count, grow, cells, in, row_pointers, column_indices, drop,
           mutable_pointer<Count>(report_device));
    copy_to_host(report.data(), report_device.raw_data(), 3 * sizeof(Count));
    const auto grown_at = [&](Count j) { return read_one(grow + j); };
    if (report[0] != kNone) {
      const int64_t position = grown_at(report[0]);
      WISP_CHECK(position >= 0 && position < cells, "rewire_connections: grown position ", position,
                 " out of range [0, ", cells, ")");
      WISP_FAIL("rewire_connections: expected increasing grown positions, but ", position, " follows ",
                grown_at(report[0] - 1));
    }
    if (report[1] != kNone) {
      const int64_t position = grown_at(report[1]);
      WISP_FAIL("rewire_connections: grown position ", position, " (", position / in, ", ", position % in,
                ") is a nonzero that is not dropped");
    }
    regrown = static_cast<int64_t>(report[2]);

    // staying_before [nnz + 1]: how many nonzeros before k stay (the last entry: all that stay).
    const Tensor flags = scratch(nnz + 1, DType::Int64, dropped.device());
    const Tensor staying_before = scratch(nnz + 1, DType::Int64, dropped.device());
    launch(staying_flags_kernel, nnz + 1, drop, nnz, mutable_pointer<int64_t>(flags));
    const int64_t* flag_data = pointer<int64_t>(flags);
    int64_t* before = mutable_pointer<int64_t>(staying_before);
    size_t temporary_bytes = 0;
    WISP_CUDA_CHECK(
        cub::DeviceScan::ExclusiveSum(nullptr, temporary_bytes, flag_data, before, nnz + 1, current_stream()));
    const Tensor temporary = scratch(static_cast<int64_t>(temporary_bytes), DType::UInt8, dropped.device());
    WISP_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(temporary.raw_data(), temporary_bytes, flag_data, before, nnz + 1,
                                                  current_stream()));
    WISP_CHECK(read_one(before + nnz) + count == new_nnz, "rewire_connections (CUDA): expected ", new_nnz,
               " nonzeros after the merge");

    launch(place_staying_kernel<Index>, nnz, row_pointers, out, column_indices, in, drop,
           pointer<int64_t>(staying_before), grow, count, new_rows, new_columns, source);
    launch(place_grown_kernel<Index>, count, grow, in, row_pointers, column_indices, pointer<int64_t>(staying_before),
           new_rows, new_columns, source);
  });
  return count - regrown;
}

// tensor float32 [n]; source Int64 [n]. The old values are copied first: source may permute them.
void gather_or_zero_(const Tensor& tensor, const Tensor& source) {
  const DeviceScope scope(tensor);
  const int64_t n = tensor.numel();
  if (n == 0) return;
  // Checked before anything is written, as the CPU twin (one synchronisation per call: RigL makes one
  // call for the values and one per optimizer state tensor, every delta_t steps).
  constexpr Count kNone = std::numeric_limits<Count>::max();
  Count first_out_of_range = kNone;
  const Tensor report = scratch(1, DType::Int64, tensor.device());
  copy_to_device(report.raw_data(), &first_out_of_range, sizeof(Count));
  launch(check_gather_source_kernel, n, pointer<int64_t>(source), mutable_pointer<Count>(report));
  copy_to_host(&first_out_of_range, report.raw_data(), sizeof(Count));
  if (first_out_of_range != kNone) {
    const int64_t j = static_cast<int64_t>(first_out_of_range);
    WISP_FAIL("gather_or_zero_: expected every source below the size ", n, " (negative: zero) but source[", j,
              "] = ", read_one(pointer<int64_t>(source) + j));
  }
  const Tensor old = scratch(n, DType::Float32, tensor.device());
  copy_within_device(old.raw_data(), tensor.raw_data(), tensor.nbytes());
  launch(gather_or_zero_kernel, n, pointer<float>(old), pointer<int64_t>(source), mutable_pointer<float>(tensor));
}

}  // namespace wisp::kernels::cuda
