// The CPU run: SparseLinear against a dense nn::Linear of the same shape, forward (no gradient
// recording) and forward+backward (`layer(x).sum().backward()`, as the notebook times it) at each
// batch size, with the streaming copy's batch-1 bound and each larger batch's read floor
// (bandwidth.h).
#include <chrono>
#include <string>
#include <utility>

#include "bandwidth.h"
#include "report.h"
#include "results.h"
#include "sparse_bench.h"
#include "timing.h"
#include "wisp/kernels/sparse_linear.h"
#include "wisp/wisp.h"

namespace wisp::sparse_bench {
namespace {

// The kernel-level forward over the same connections in four formats, back to back in this run:
// 32-bit column indices with float32 values (the fp32 format: 8 bytes per connection), the layer's
// own (16-bit column indices up to 65536 inputs: 6 bytes), that with bfloat16 values
// (compute_dtype(DType::BFloat16): 4 bytes), and that with a bfloat16 input as well (from two rows;
// half the bytes of x's slices). What each lever buys.
void add_index_format_rows(Results& results, const nn::SparseLinear& sparse, const Arguments& arguments) {
  const int64_t n = sparse.in_features();
  const SparseStructure wide_format =
      kernels::make_sparse_structure(sparse.indices(), sparse.out_features(), n, DType::Int32);
  const Tensor weights = sparse.weights().detach(), bias = sparse.bias().detach();
  const Tensor weights_bfloat16 = weights.to(DType::BFloat16);
  struct Format {
    const char* name;
    const SparseStructure* structure;
    const Tensor* values;
    DType input;
  };
  const Format formats[] = {{"format32", &wide_format, &weights, DType::Float32},
                            {"format_layer", &sparse.structure(), &weights, DType::Float32},
                            {"format_bfloat16", &sparse.structure(), &weights_bfloat16, DType::Float32},
                            {"format_bfloat16_input", &sparse.structure(), &weights_bfloat16, DType::BFloat16}};
  for (int64_t batch : arguments.batches) {
    const Tensor x = rand({batch, n});
    for (const Format& format : formats) {
      const kernels::FeatureMajor input = kernels::to_feature_major(x, format.input);
      const Timing t = time_runs(
          arguments.reps, [&] { kernels::sparse_linear_forward(input, *format.values, *format.structure, bias); });
      results.add(std::string(format.name) + "_forward", batch, t.median_ms, "ms");
      results.add(std::string(format.name) + "_forward_min", batch, t.min_ms, "ms");
      results.add(std::string(format.name) + "_bytes_per_connection", batch,
                  static_cast<double>(element_size(format.structure->column_indices.dtype()) +
                                      element_size(format.values->dtype())),
                  "bytes");
    }
  }
}

}  // namespace

int run_cpu_cases(const Arguments& arguments) {
  if (arguments.threads > 0) set_num_threads(arguments.threads);
  manual_seed(arguments.seed);
  const int64_t n = arguments.size;
  Results results;

  const auto init_start = std::chrono::steady_clock::now();
  nn::SparseLinear sparse(n, n, nn::SparseLinearOptions().sparsity(arguments.sparsity));
  const double init_ms = milliseconds_since(init_start);
  add_layer_rows(results, sparse, init_ms);
  results.add("threads", 0, get_num_threads(), "count");
  add_batch1_bound_rows(results, sparse, copy_bandwidth_gb_per_s());

  for (int64_t batch : arguments.batches) {
    Tensor x = batch == 1 ? rand({n}) : rand({batch, n});
    if (arguments.input_grad) x.set_requires_grad(true);
    const auto forward = [&](nn::Module& layer) {
      NoGradGuard no_grad;
      Tensor y = layer(x);
    };
    const auto train = [&](nn::Module& layer) {
      layer.zero_grad();
      x.set_grad(Tensor());
      layer(x).sum().backward();
    };
    if (batch > 1) add_read_floor_rows(results, sparse, batch);
    Timing t = time_runs(arguments.reps, [&] { forward(sparse); });
    results.add("wisp_sparse_forward", batch, t.median_ms, "ms");
    results.add("wisp_sparse_forward_min", batch, t.min_ms, "ms");
    t = time_runs(arguments.reps, [&] { train(sparse); });
    results.add("wisp_sparse_train", batch, t.median_ms, "ms");
    results.add("wisp_sparse_train_min", batch, t.min_ms, "ms");
  }
  add_index_format_rows(results, sparse, arguments);
  {
    // The same layer in the reduced-precision mode (the same seed: the same connections and values).
    manual_seed(arguments.seed);
    nn::SparseLinear reduced(n, n,
                             nn::SparseLinearOptions().sparsity(arguments.sparsity).compute_dtype(DType::BFloat16));
    for (int64_t batch : arguments.batches) {
      Tensor x = batch == 1 ? rand({n}) : rand({batch, n});
      if (arguments.input_grad) x.set_requires_grad(true);
      Timing t = time_runs(arguments.reps, [&] {
        NoGradGuard no_grad;
        Tensor y = reduced(x);
      });
      results.add("wisp_bf16_forward", batch, t.median_ms, "ms");
      results.add("wisp_bf16_forward_min", batch, t.min_ms, "ms");
      t = time_runs(arguments.reps, [&] {
        reduced.zero_grad();
        x.set_grad(Tensor());
        reduced(x).sum().backward();
      });
      results.add("wisp_bf16_train", batch, t.median_ms, "ms");
    }
  }
  if (!arguments.skip_dense) {
    nn::Linear dense(n, n);
    for (int64_t batch : arguments.batches) {
      Tensor x = batch == 1 ? rand({n}) : rand({batch, n});
      if (arguments.input_grad) x.set_requires_grad(true);
      Timing t = time_runs(arguments.dense_reps, [&] {
        NoGradGuard no_grad;
        Tensor y = dense(x);
      });
      results.add("wisp_dense_forward", batch, t.median_ms, "ms");
      t = time_runs(arguments.dense_reps, [&] {
        dense.zero_grad();
        x.set_grad(Tensor());
        dense(x).sum().backward();
      });
      results.add("wisp_dense_train", batch, t.median_ms, "ms");
    }
  }

  if (arguments.csv) print_csv(results);
  else print_cpu_table(arguments, results);
  return 0;
}

}  // namespace wisp::sparse_bench
