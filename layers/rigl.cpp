#include "wisp/layers/rigl.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "wisp/autograd/grad_mode.h"
#include "wisp/kernels/rigl.h"

namespace wisp::nn {

double rigl_drop_fraction(int64_t step, double alpha, int64_t t_end) {
  if (t_end <= 0) return 0.0;
  const double progress = static_cast<double>(std::min(step, t_end)) / static_cast<double>(t_end);
  return alpha / 2.0 * (1.0 + std::cos(M_PI * progress));
}

bool rigl_updates_at(int64_t step, int64_t delta_t, int64_t t_end) {
  return delta_t > 0 && step > 0 && step % delta_t == 0 && step <= t_end;
}

RiglUpdate rigl_update(const Tensor& values, const SparseStructure& structure, const Tensor& grad_output,
                       const Tensor& input, int64_t count, const std::vector<Tensor>& companions, uint64_t tie_seed,
                       int64_t tile_elements) {
  constexpr const char* op = "rigl_update";
  WISP_CHECK(structure.defined(), op, ": the sparse structure is empty");
  check_dtype(op, "values", values, DType::Float32);
  WISP_CHECK(values.shape() == Shape{structure.nnz()}, op, ": expected values of shape ", Shape{structure.nnz()},
             " but got ", values.shape());
  for (const Tensor& companion : companions) {
    check_dtype(op, "companion", companion, DType::Float32);
    WISP_CHECK(companion.shape() == values.shape(), op, ": expected every companion tensor of shape ", values.shape(),
               " (one entry per connection) but got ", companion.shape());
    check_same_device(op, values, companion);
  }
  WISP_CHECK(count >= 0 && count <= structure.nnz(), op, ": expected a count in [0, ", structure.nnz(), "] but got ",
             count);
  NoGradGuard no_grad;
  RiglUpdate update;
  update.dropped = count;
  if (count == 0) return update;

  const Tensor dropped = kernels::smallest_magnitude_mask(values.detach(), count, tie_seed);
  const Tensor grown =
      kernels::largest_absent_gradients(grad_output, input, structure, dropped, count, tie_seed, tile_elements);
  const kernels::RewiredConnections rewired = kernels::rewire_connections(structure, dropped, grown);
  update.moved = rewired.new_connections;

  kernels::gather_or_zero_(values.detach(), rewired.source);
  for (const Tensor& companion : companions) kernels::gather_or_zero_(companion.detach(), rewired.source);
  kernels::rebuild_sparse_structure_(structure, rewired.indices);
  return update;
}

}  // namespace wisp::nn
