// cat and repeat_interleave: forward against hand-computed values and naive references (several
// dtypes), gradients with check_gradients, gradient values, and argument errors.
#include "test_helpers.h"

using namespace wisp;
using wisp::testing::require_close;
using wisp::testing::values;

namespace {

// Concatenation of row-major [outer, size_j, inner] blocks, the obvious way.
std::vector<float> naive_cat(const std::vector<Tensor>& tensors, int64_t outer) {
  std::vector<float> out;
  for (int64_t o = 0; o < outer; ++o) {
    for (const Tensor& t : tensors) {
      const std::vector<float> v = values(t);
      const int64_t block = t.numel() / outer;
      out.insert(out.end(), v.begin() + o * block, v.begin() + (o + 1) * block);
    }
  }
  return out;
}

// out[o, s * repeats + r, i] = a[o, s, i].
template <class T>
std::vector<T> naive_repeat_interleave(const std::vector<T>& a, int64_t outer, int64_t size, int64_t inner,
                                       int64_t repeats) {
  std::vector<T> out;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t s = 0; s < size; ++s)
      for (int64_t r = 0; r < repeats; ++r)
        for (int64_t i = 0; i < inner; ++i) out.push_back(a[(o * size + s) * inner + i]);
  return out;
}

}  // namespace

// ---- cat -----------------------------------------------------------------------------------------

TEST_CASE("cat: along dimension 0 and along the last dimension", "[cat]") {
  Tensor a = from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor rows = cat({a, from_vector<float>({5, 6}, {1, 2})}, 0);
  REQUIRE(rows.shape() == Shape{3, 2});
  REQUIRE(values(rows) == std::vector<float>{1, 2, 3, 4, 5, 6});
  Tensor columns = cat({from_vector<float>({1, 2}, {2, 1}), from_vector<float>({3, 4, 5, 6}, {2, 2})}, -1);
  REQUIRE(columns.shape() == Shape{2, 3});
  REQUIRE(values(columns) == std::vector<float>{1, 3, 4, 2, 5, 6});
  Tensor single = cat({a}, 1);
  REQUIRE(values(single) == values(a));
}

TEST_CASE("cat: 3-D tensors along every dimension match a naive reference", "[cat]") {
  manual_seed(31);
  const int64_t dim = GENERATE(0, 1, 2);
  INFO("dim " << dim);
  std::vector<int64_t> base{2, 3, 4};
  std::vector<Tensor> parts;
  for (int64_t size : {1, 3, 0, 2}) {  // including an empty piece
    std::vector<int64_t> dims = base;
    dims[static_cast<size_t>(dim)] = size;
    parts.push_back(randn(Shape(dims)));
  }
  Tensor out = cat(parts, dim);
  std::vector<int64_t> expected_dims = base;
  expected_dims[static_cast<size_t>(dim)] = 6;
  REQUIRE(out.shape() == Shape(expected_dims));
  int64_t outer = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= base[static_cast<size_t>(d)];
  REQUIRE(values(out) == naive_cat(parts, outer));
}

TEST_CASE("cat: large inputs (parallel copy) match a naive reference", "[cat]") {
  manual_seed(32);
  Tensor a = randn({300, 100}), b = randn({300, 50}), c = randn({300, 7});
  Tensor out = cat({a, b, c}, 1);
  REQUIRE(out.shape() == Shape{300, 157});
  REQUIRE(values(out) == naive_cat({a, b, c}, 300));
}

TEST_CASE("cat: integer dtypes, as in building a connectivity tensor", "[cat]") {
  Tensor row = from_vector<int64_t>({7, 8, 9}, {1, 3});
  Tensor col = arange(3, DType::Int64).view({1, -1});
  Tensor connections = cat({row, col}, 0);
  REQUIRE(connections.dtype() == DType::Int64);
  REQUIRE(connections.shape() == Shape{2, 3});
  REQUIRE(connections.to_vector<int64_t>() == std::vector<int64_t>{7, 8, 9, 0, 1, 2});
  Tensor bytes = cat({from_vector<uint8_t>({1, 2}), from_vector<uint8_t>({3})});
  REQUIRE(bytes.to_vector<uint8_t>() == std::vector<uint8_t>{1, 2, 3});
  Tensor ints = cat({from_vector<int32_t>({-1}, {1, 1}), from_vector<int32_t>({5, 6}, {1, 2})}, 1);
  REQUIRE(ints.to_vector<int32_t>() == std::vector<int32_t>{-1, 5, 6});
}

TEST_CASE("cat: gradients match finite differences", "[cat][gradients]") {
  manual_seed(33);
  const int64_t dim = GENERATE(0, 1, -1);
  INFO("dim " << dim);
  std::vector<Tensor> inputs = dim == 0 ? std::vector<Tensor>{randn({2, 3}), randn({1, 3}), randn({3, 3})}
                                        : std::vector<Tensor>{randn({3, 2}), randn({3, 1}), randn({3, 4})};
  WISP_REQUIRE_GRADIENTS([dim](const std::vector<Tensor>& in) { return cat(in, dim); }, inputs);
  WISP_REQUIRE_GRADIENTS(
      [](const std::vector<Tensor>& in) {
        return cat({in[0], in[1]}, 1);
      },
      (std::vector<Tensor>{randn({2, 2, 3}), randn({2, 1, 3})}));
}

TEST_CASE("cat: backward slices the gradient, only for inputs that require grad", "[cat][gradients]") {
  Tensor a = from_vector<float>({1, 2}, {2, 1}).set_requires_grad(true);
  Tensor constant = from_vector<float>({3, 4, 5, 6}, {2, 2});
  Tensor b = from_vector<float>({7, 8}, {2, 1}).set_requires_grad(true);
  Tensor out = cat({a, constant, b}, 1);
  REQUIRE(out.grad_fn_name() == "CatBackward");
  out.backward(from_vector<float>({10, 11, 12, 13, 20, 21, 22, 23}, {2, 4}));
  REQUIRE(values(a.grad()) == std::vector<float>{10, 20});
  REQUIRE(values(b.grad()) == std::vector<float>{13, 23});
  REQUIRE_FALSE(constant.grad().defined());
  REQUIRE_FALSE(cat({constant, constant}, 0).requires_grad());
}

TEST_CASE("cat: bad arguments name the offending tensor and shapes", "[cat][errors]") {
  WISP_REQUIRE_ERROR(cat({}, 0), "cat: expected a non-empty list of tensors");
  WISP_REQUIRE_ERROR(cat({zeros({2, 3}), zeros({2, 4})}, 0), "cat: expected tensor 1 to match tensor 0 (shape [2, 3])",
                     "except 0", "got shape [2, 4]", "(dimension 1: 3 != 4)");
  WISP_REQUIRE_ERROR(cat({zeros({2, 3}), zeros({2, 3}), zeros({3})}, 1), "cat: expected tensors with 2 dimensions",
                     "tensor 2 has shape [3]");
  WISP_REQUIRE_ERROR(cat({zeros({2}), zeros({2}, DType::Int64)}, 0),
                     "cat: expected all tensors of dtype float32 (the dtype of tensor 0) but tensor 1 has dtype int64");
  WISP_REQUIRE_ERROR(cat({zeros({2}), Tensor()}, 0), "cat: expected defined tensors but tensor 1 is undefined");
  WISP_REQUIRE_ERROR(cat({Tensor(), zeros({2})}, 0), "cat: expected defined tensors but tensor 0 is undefined");
  WISP_REQUIRE_ERROR(cat({zeros({}), zeros({})}, 0), "cat: zero-dimensional tensor (at index 0)");
  WISP_REQUIRE_ERROR(cat({zeros({2, 3}), zeros({2, 3})}, 2), "cat: dimension out of range", "[-2, 1]", "got 2");
  if (cuda::is_available()) {
    WISP_REQUIRE_ERROR(cat({zeros({2}), zeros({2}, Device::cuda(0))}, 0), "cat: expected all tensors on cpu",
                       "tensor 1 is on cuda:0");
  }
}

// ---- repeat_interleave ---------------------------------------------------------------------------

TEST_CASE("repeat_interleave: flattened and along each dimension", "[repeat_interleave]") {
  Tensor a = from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor flat = a.repeat_interleave(2);
  REQUIRE(flat.shape() == Shape{8});
  REQUIRE(values(flat) == std::vector<float>{1, 1, 2, 2, 3, 3, 4, 4});
  Tensor rows = a.repeat_interleave(2, 0);
  REQUIRE(rows.shape() == Shape{4, 2});
  REQUIRE(values(rows) == std::vector<float>{1, 2, 1, 2, 3, 4, 3, 4});
  Tensor columns = repeat_interleave(a, 3, -1);
  REQUIRE(columns.shape() == Shape{2, 6});
  REQUIRE(values(columns) == std::vector<float>{1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4});
  REQUIRE(values(a.repeat_interleave(1, 1)) == values(a));
}

TEST_CASE("repeat_interleave: zero repeats and 0-dimensional inputs", "[repeat_interleave]") {
  Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  REQUIRE(a.repeat_interleave(0, 1).shape() == Shape{2, 0});
  REQUIRE(a.repeat_interleave(0).shape() == Shape{0});
  Tensor scalar = full({}, 2.5);
  Tensor from_scalar = scalar.repeat_interleave(3);
  REQUIRE(from_scalar.shape() == Shape{3});
  REQUIRE(values(from_scalar) == std::vector<float>{2.5f, 2.5f, 2.5f});
  REQUIRE(values(scalar.repeat_interleave(2, 0)) == std::vector<float>{2.5f, 2.5f});
}

TEST_CASE("repeat_interleave: Int64 arange, as in building user connectivity", "[repeat_interleave]") {
  Tensor col = arange(784, DType::Int64).repeat_interleave(200);
  REQUIRE(col.dtype() == DType::Int64);
  REQUIRE(col.shape() == Shape{156800});
  const std::vector<int64_t> v = col.to_vector<int64_t>();
  for (int64_t j = 0; j < 156800; ++j) {
    if (v[static_cast<size_t>(j)] != j / 200) FAIL("element " << j << " is " << v[static_cast<size_t>(j)]);
  }
  Tensor bytes = from_vector<uint8_t>({1, 2, 3, 4}, {2, 2}).repeat_interleave(2, 0);
  REQUIRE(bytes.to_vector<uint8_t>() == std::vector<uint8_t>{1, 2, 1, 2, 3, 4, 3, 4});
}

TEST_CASE("repeat_interleave: the wide model's input expansion [64, 784] -> [64, 7840]", "[repeat_interleave]") {
  manual_seed(41);
  Tensor input = randn({64, 1, 28, 28});
  Tensor x = input.view({-1, 784}).repeat_interleave(10, 1);
  REQUIRE(x.shape() == Shape{64, 7840});
  REQUIRE(values(x) == naive_repeat_interleave(values(input), 64, 784, 1, 10));
}

TEST_CASE("repeat_interleave: 3-D tensors along every dimension match a naive reference", "[repeat_interleave]") {
  manual_seed(42);
  const int64_t dim = GENERATE(0, 1, 2);
  const int64_t repeats = GENERATE(1, 3);
  INFO("dim " << dim << " repeats " << repeats);
  const std::vector<int64_t> dims{2, 3, 4};
  Tensor a = randn({2, 3, 4});
  Tensor out = a.repeat_interleave(repeats, dim);
  std::vector<int64_t> expected_dims = dims;
  expected_dims[static_cast<size_t>(dim)] *= repeats;
  REQUIRE(out.shape() == Shape(expected_dims));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= dims[static_cast<size_t>(d)];
  for (int64_t d = dim + 1; d < 3; ++d) inner *= dims[static_cast<size_t>(d)];
  REQUIRE(values(out) == naive_repeat_interleave(values(a), outer, dims[static_cast<size_t>(dim)], inner, repeats));
}

TEST_CASE("repeat_interleave: gradients match finite differences", "[repeat_interleave][gradients]") {
  manual_seed(43);
  WISP_REQUIRE_GRADIENTS([](const std::vector<Tensor>& in) { return in[0].repeat_interleave(3); },
                         std::vector<Tensor>{randn({2, 3})});
  const int64_t dim = GENERATE(0, 1, 2, -1);
  INFO("dim " << dim);
  WISP_REQUIRE_GRADIENTS([dim](const std::vector<Tensor>& in) { return in[0].repeat_interleave(2, dim); },
                         std::vector<Tensor>{randn({2, 3, 2})});
}

TEST_CASE("repeat_interleave: backward sums each group of repeats", "[repeat_interleave][gradients]") {
  Tensor a = from_vector<float>({1, 2, 3, 4}, {2, 2}).set_requires_grad(true);
  Tensor out = a.repeat_interleave(2, 0);  // rows 0, 0, 1, 1
  REQUIRE(out.grad_fn_name() == "RepeatInterleaveBackward");
  out.backward(from_vector<float>({1, 2, 10, 20, 100, 200, 1000, 2000}, {4, 2}));
  REQUIRE(values(a.grad()) == std::vector<float>{11, 22, 1100, 2200});

  Tensor b = from_vector<float>({1, 2, 3}).set_requires_grad(true);
  b.repeat_interleave(2).backward(from_vector<float>({1, 2, 3, 4, 5, 6}));
  REQUIRE(values(b.grad()) == std::vector<float>{3, 7, 11});
  REQUIRE(b.grad().shape() == Shape{3});

  // Flattening a 2-D tensor: the gradient comes back in the input's shape.
  Tensor c = from_vector<float>({1, 2, 3, 4}, {2, 2}).set_requires_grad(true);
  c.repeat_interleave(3).sum().backward();
  REQUIRE(c.grad().shape() == Shape{2, 2});
  REQUIRE(values(c.grad()) == std::vector<float>{3, 3, 3, 3});
}

TEST_CASE("repeat_interleave: large backward (parallel) along the last dimension", "[repeat_interleave][gradients]") {
  manual_seed(44);
  Tensor x = randn({64, 784}).set_requires_grad(true);
  Tensor y = x.repeat_interleave(10, 1);
  Tensor g = randn({64, 7840});
  y.backward(g);
  const std::vector<float> gs = values(g);
  std::vector<float> expected(64 * 784);
  for (size_t j = 0; j < expected.size(); ++j) {
    float total = 0;
    for (size_t r = 0; r < 10; ++r) total += gs[j * 10 + r];
    expected[j] = total;
  }
  require_close(x.grad(), from_vector(expected, {64, 784}), 1e-5f);
}

TEST_CASE("repeat_interleave: bad arguments throw", "[repeat_interleave][errors]") {
  WISP_REQUIRE_ERROR(zeros({2, 3}).repeat_interleave(-1), "repeat_interleave: expected repeats >= 0 but got -1");
  WISP_REQUIRE_ERROR(zeros({2, 3}).repeat_interleave(-2, 1), "repeat_interleave: expected repeats >= 0 but got -2");
  WISP_REQUIRE_ERROR(zeros({2, 3}).repeat_interleave(2, 2), "repeat_interleave: dimension out of range", "[-2, 1]",
                     "got 2");
  WISP_REQUIRE_ERROR(repeat_interleave(Tensor(), 2), "repeat_interleave: expected a defined tensor");
  WISP_REQUIRE_ERROR(repeat_interleave(Tensor(), 2, 0), "repeat_interleave: expected a defined tensor");
  // A repeated size past int64 is refused (it used to wrap to a small shape the kernel wrote past).
  WISP_REQUIRE_ERROR(zeros({4, 2}).repeat_interleave(int64_t(1) << 62, 0),
                     "repeat_interleave: dimension 0 of shape [4, 2] repeated 4611686018427387904 times has more "
                     "elements than int64 can count");
  WISP_REQUIRE_ERROR(zeros({4}).repeat_interleave(int64_t(1) << 62), "more elements than int64 can count");
}
