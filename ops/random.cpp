// Random ops: bernoulli and dropout. Kernels in kernels/random.h.
#include "wisp/ops/random.h"

#include "wisp/kernels/elementwise.h"
#include "wisp/kernels/random.h"
#include "wisp/kernels/reduce.h"
#include "wisp/ops/elementwise.h"

namespace wisp {
namespace {

void check_probability(const char* op, const char* name, double p) {
  WISP_CHECK(p >= 0.0 && p <= 1.0, op, ": expected ", name, " in [0, 1] but got ", p);
}

}  // namespace

Tensor bernoulli(const Tensor& probabilities, Generator& generator) {
  check_dtype("bernoulli", "probabilities", probabilities, DType::Float32);
  // Counting the probabilities in [0, 1] (NaN is not) reads them back once: bernoulli is not on a
  // hot path, and a silent 0 or 1 for a bad probability would hide the mistake.
  using kernels::CompareOp;
  const Tensor in_range =
      kernels::binary(kernels::BinaryOp::Mul, kernels::compare_scalar(CompareOp::Ge, probabilities, 0.0),
                      kernels::compare_scalar(CompareOp::Le, probabilities, 1.0));
  const int64_t valid = kernels::sum_all(in_range).item<int64_t>();
  WISP_CHECK(valid == probabilities.numel(), "bernoulli: expected probabilities in [0, 1] but ",
             probabilities.numel() - valid, " of the ", probabilities.numel(), " are not");
  const Generator::Block block = generator.reserve(static_cast<uint64_t>(probabilities.numel()));
  return kernels::bernoulli(probabilities.detach(), block.key, block.first);
}

Tensor bernoulli(const Tensor& input, double p, Generator& generator) {
  WISP_CHECK(input.defined(), "bernoulli: expected a defined tensor");
  check_probability("bernoulli", "p", p);
  const Generator::Block block = generator.reserve(static_cast<uint64_t>(input.numel()));
  Tensor out = kernels::bernoulli_scalar(input.shape(), input.device(), p, 1.0, block.key, block.first);
  return input.dtype() == DType::Float32 ? out : kernels::cast(out, input.dtype());
}

Tensor dropout(const Tensor& input, double p, bool training, Generator& generator) {
  check_dtype("dropout", "input", input, DType::Float32);
  check_probability("dropout", "p", p);
  if (!training || p == 0.0) return input;
  if (p == 1.0) return input * 0.0;
  const Generator::Block block = generator.reserve(static_cast<uint64_t>(input.numel()));
  // The mask holds 0 or 1 / (1 − p): one multiplication scales and drops, and mul's backward sends
  // the gradient through the same mask (the mask needs no gradient of its own).
  const Tensor mask =
      kernels::bernoulli_scalar(input.shape(), input.device(), 1.0 - p, 1.0 / (1.0 - p), block.key, block.first);
  return input * mask;
}

}  // namespace wisp
