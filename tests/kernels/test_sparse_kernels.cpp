// The sparse linear kernels behind kernels/sparse_linear.h: the CSR/CSC structure, the
// feature-major layout, and forward/backward against a naive reference for both index widths and
// batch sizes around the SIMD lanes and tiles.
#include <cmath>

#include "test_helpers.h"
#include "wisp/kernels/sparse_linear.h"

using namespace wisp;
using wisp::testing::require_close;
using wisp::testing::values;

namespace {

template <class T>
std::vector<T> vec(const Tensor& t) {
  return t.to_vector<T>();
}

// A random connectivity given as sorted distinct (row, col) pairs, Int64 [2, nnz].
Tensor random_indices(int64_t out, int64_t in, double density) {
  const std::vector<float> draws = values(rand({out * in}));
  std::vector<int64_t> rows, cols;
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < in; ++c)
      if (draws[static_cast<size_t>(r * in + c)] < density) {
        rows.push_back(r);
        cols.push_back(c);
      }
  std::vector<int64_t> both = rows;
  both.insert(both.end(), cols.begin(), cols.end());
  return from_vector(both, {2, static_cast<int64_t>(rows.size())});
}

}  // namespace

TEST_CASE("make_sparse_structure: CSR, CSC and the permutation of a small matrix", "[sparse_kernels]") {
  // 3 x 4 matrix with nonzeros (0,1) (0,3) (1,0) (2,1) (2,2) at value indices 0..4.
  const Tensor indices = from_vector<int64_t>({0, 0, 1, 2, 2, 1, 3, 0, 1, 2}, {2, 5});
  const kernels::SparseStructure s = kernels::make_sparse_structure(indices, 3, 4);
  // Int32 positions, 16-bit feature indices: the smallest dtypes that hold them.
  REQUIRE(s.index_dtypes() == SparseIndexDTypes{DType::Int32, DType::UInt16, DType::UInt16});
  CHECK(s.nnz() == 5);
  CHECK(vec<int32_t>(s.row_pointers) == std::vector<int32_t>{0, 2, 3, 5});
  CHECK(vec<uint16_t>(s.column_indices) == std::vector<uint16_t>{1, 3, 0, 1, 2});
  CHECK(vec<int32_t>(s.column_pointers) == std::vector<int32_t>{0, 1, 3, 4, 5});
  CHECK(vec<uint16_t>(s.row_indices) == std::vector<uint16_t>{1, 0, 2, 2, 0});
  CHECK(vec<int32_t>(s.csc_to_value) == std::vector<int32_t>{2, 0, 3, 4, 1});
  CHECK(s.nbytes() == (4 + 5 + 5) * 4 + (5 + 5) * 2);
  const kernels::SparseStructure narrow = kernels::make_sparse_structure(indices, 3, 4, DType::Int32);
  CHECK(narrow.index_dtypes() == SparseIndexDTypes::uniform(DType::Int32));
  CHECK(vec<int32_t>(narrow.column_indices) == std::vector<int32_t>{1, 3, 0, 1, 2});
  const kernels::SparseStructure wide = kernels::make_sparse_structure(indices, 3, 4, DType::Int64);
  CHECK(wide.index_dtypes() == SparseIndexDTypes::uniform(DType::Int64));
  CHECK(vec<int64_t>(wide.csc_to_value) == std::vector<int64_t>{2, 0, 3, 4, 1});
  CHECK(s.to(Device::cpu()).row_pointers.impl() == s.row_pointers.impl());  // already there: shared
  // Empty rows and columns.
  const kernels::SparseStructure sparse = kernels::make_sparse_structure(from_vector<int64_t>({1, 2}, {2, 1}), 4, 3);
  CHECK(vec<int32_t>(sparse.row_pointers) == std::vector<int32_t>{0, 0, 1, 1, 1});
  CHECK(vec<int32_t>(sparse.column_pointers) == std::vector<int32_t>{0, 0, 0, 1});
}

TEST_CASE("to_feature_major: transposes and zero-pads the batch to the SIMD lanes", "[sparse_kernels]") {
  manual_seed(1);
  const int64_t rows = GENERATE(0, 1, 2, 16, 17, 70);
  const int64_t features = 37;
  INFO("rows " << rows);
  Tensor x = randn({rows, features});
  const kernels::FeatureMajor t = kernels::to_feature_major(x);
  const int64_t stride =
      rows <= 1 ? rows
                : (rows + kernels::kFeatureMajorLanes - 1) / kernels::kFeatureMajorLanes * kernels::kFeatureMajorLanes;
  REQUIRE(t.rows == rows);
  REQUIRE(t.data.shape() == Shape{features, stride});
  const std::vector<float> xs = values(x), ts = values(t.data);
  for (int64_t f = 0; f < features; ++f)
    for (int64_t r = 0; r < stride; ++r)
      REQUIRE(ts[static_cast<size_t>(f * stride + r)] == (r < rows ? xs[static_cast<size_t>(r * features + f)] : 0.0f));
}

TEST_CASE("to_feature_major: large operands (streamed out around the caches) transpose the same", "[sparse_kernels]") {
  manual_seed(11);
  // From 1 MB the kernel writes through a buffer with streaming stores (up to 256 rows), and 20001
  // features leave a partial last block of 16; 300 rows take the plain loop.
  const int64_t rows = GENERATE(16, 70, 256, 300);
  const int64_t features = 20001;
  INFO("rows " << rows);
  const Tensor x = randn({rows, features});
  const kernels::FeatureMajor t = kernels::to_feature_major(x);
  const int64_t stride =
      (rows + kernels::kFeatureMajorLanes - 1) / kernels::kFeatureMajorLanes * kernels::kFeatureMajorLanes;
  REQUIRE(t.data.shape() == Shape{features, stride});
  const std::vector<float> xs = values(x);
  std::vector<float> expected(static_cast<size_t>(features * stride), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t f = 0; f < features; ++f)
      expected[static_cast<size_t>(f * stride + r)] = xs[static_cast<size_t>(r * features + f)];
  CHECK(values(t.data) == expected);
}

TEST_CASE("make_sparse_structure: 16-bit feature indices up to 65536 features, wider above", "[sparse_kernels]") {
  // One nonzero at the last row and column of each side length: the largest index each width holds.
  const auto corner = [](int64_t out, int64_t in) {
    return kernels::make_sparse_structure(from_vector<int64_t>({out - 1, in - 1}, {2, 1}), out, in);
  };
  const kernels::SparseStructure largest = corner(65536, 65536);
  CHECK(largest.index_dtypes() == SparseIndexDTypes{DType::Int32, DType::UInt16, DType::UInt16});
  CHECK(vec<uint16_t>(largest.column_indices) == std::vector<uint16_t>{65535});
  CHECK(vec<uint16_t>(largest.row_indices) == std::vector<uint16_t>{65535});
  const kernels::SparseStructure wider_input = corner(10, 65537);
  CHECK(wider_input.index_dtypes() == SparseIndexDTypes{DType::Int32, DType::Int32, DType::UInt16});
  CHECK(vec<int32_t>(wider_input.column_indices) == std::vector<int32_t>{65536});
  const kernels::SparseStructure wider_output = corner(65537, 10);
  CHECK(wider_output.index_dtypes() == SparseIndexDTypes{DType::Int32, DType::UInt16, DType::Int32});
  WISP_REQUIRE_ERROR(kernels::make_sparse_structure(from_vector<int64_t>({0, 0}, {2, 1}), 2, 65537,
                                                    SparseIndexDTypes{DType::Int32, DType::UInt16, DType::UInt16}),
                     "column index dtype", "uint16", "65537 features");
  WISP_REQUIRE_ERROR(kernels::make_sparse_structure(from_vector<int64_t>({0, 0}, {2, 1}), 2, 3,
                                                    SparseIndexDTypes{DType::Int32, DType::Int64, DType::UInt16}),
                     "column index dtype", "int64");
}

TEST_CASE("sparse kernels: 16-bit and 32-bit feature indices give bit-identical results", "[sparse_kernels]") {
  manual_seed(3);
  const int64_t out = 70, in = 90;
  const Tensor indices = random_indices(out, in, 0.3);
  const int64_t nnz = indices.size(1);
  const int64_t rows = GENERATE(1, 5, 16, 40, 64, 100);
  INFO("rows " << rows);
  const kernels::SparseStructure narrow = kernels::make_sparse_structure(indices, out, in);
  const kernels::SparseStructure reference = kernels::make_sparse_structure(indices, out, in, DType::Int32);
  REQUIRE(narrow.index_dtypes().columns == DType::UInt16);
  const Tensor w = randn({nnz}), b = randn({out}), x = randn({rows, in}), g = randn({rows, out});
  const kernels::FeatureMajor xt = kernels::to_feature_major(x);
  CHECK(values(kernels::sparse_linear_forward(xt, w, narrow, b)) ==
        values(kernels::sparse_linear_forward(xt, w, reference, b)));
  const kernels::SparseLinearGradients ours = kernels::sparse_linear_backward(g, xt, w, narrow, true, true, false);
  const kernels::SparseLinearGradients theirs = kernels::sparse_linear_backward(g, xt, w, reference, true, true, false);
  CHECK(values(ours.input) == values(theirs.input));
  CHECK(values(ours.values) == values(theirs.values));
}

TEST_CASE("sparse kernels: forward and backward match a naive reference for every index format", "[sparse_kernels]") {
  manual_seed(2);
  const int64_t out = 45, in = 60;
  const Tensor indices = random_indices(out, in, 0.2);
  const int64_t nnz = indices.size(1);
  const int64_t rows = GENERATE(1, 3, 16, 33, 64, 65, 150);
  const SparseIndexDTypes index_dtypes =
      GENERATE(SparseIndexDTypes::uniform(DType::Int32), SparseIndexDTypes::uniform(DType::Int64),
               SparseIndexDTypes{DType::Int32, DType::UInt16, DType::UInt16},
               SparseIndexDTypes{DType::Int64, DType::UInt16, DType::UInt16},
               SparseIndexDTypes{DType::Int32, DType::Int32, DType::UInt16});
  INFO("rows " << rows << ", pointers " << index_dtypes.pointers << ", columns " << index_dtypes.columns << ", rows "
               << index_dtypes.rows);
  const kernels::SparseStructure s = kernels::make_sparse_structure(indices, out, in, index_dtypes);
  Tensor w = randn({nnz}), b = randn({out}), x = randn({rows, in}), g = randn({rows, out});

  // Naive references in double precision.
  const std::vector<int64_t> idx = vec<int64_t>(indices);
  const std::vector<float> ws = values(w), bs = values(b), xs = values(x), gs = values(g);
  std::vector<double> y(static_cast<size_t>(rows * out)), gx(static_cast<size_t>(rows * in), 0.0),
      gw(static_cast<size_t>(nnz), 0.0), gb(static_cast<size_t>(out), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      y[static_cast<size_t>(r * out + o)] = bs[static_cast<size_t>(o)];
      gb[static_cast<size_t>(o)] += gs[static_cast<size_t>(r * out + o)];
    }
    for (int64_t k = 0; k < nnz; ++k) {
      const int64_t o = idx[static_cast<size_t>(k)], i = idx[static_cast<size_t>(nnz + k)];
      y[static_cast<size_t>(r * out + o)] += static_cast<double>(ws[k]) * xs[static_cast<size_t>(r * in + i)];
      gx[static_cast<size_t>(r * in + i)] += static_cast<double>(ws[k]) * gs[static_cast<size_t>(r * out + o)];
      gw[static_cast<size_t>(k)] +=
          static_cast<double>(gs[static_cast<size_t>(r * out + o)]) * xs[static_cast<size_t>(r * in + i)];
    }
  }
  const auto as_tensor = [](const std::vector<double>& v, const Shape& shape) {
    return from_vector(std::vector<float>(v.begin(), v.end()), shape);
  };

  const kernels::FeatureMajor xt = kernels::to_feature_major(x);
  require_close(kernels::sparse_linear_forward(xt, w, s, b), as_tensor(y, {rows, out}), 1e-4f);
  const kernels::SparseLinearGradients all = kernels::sparse_linear_backward(g, xt, w, s, true, true, true);
  require_close(all.input, as_tensor(gx, {rows, in}), 1e-4f);
  require_close(all.values, as_tensor(gw, {nnz}), 1e-4f);
  require_close(all.bias, as_tensor(gb, {out}), 1e-4f);

  // Only what is asked for is computed, and it does not need the other operands.
  const kernels::SparseLinearGradients bias_only =
      kernels::sparse_linear_backward(g, kernels::FeatureMajor(), Tensor(), s, false, false, true);
  CHECK_FALSE(bias_only.input.defined());
  CHECK_FALSE(bias_only.values.defined());
  require_close(bias_only.bias, as_tensor(gb, {out}), 1e-4f);
}

TEST_CASE("sparse kernels: argument errors name the operand and the sizes", "[sparse_kernels][errors]") {
  const Tensor indices = from_vector<int64_t>({0, 1, 1, 0}, {2, 2});
  const kernels::SparseStructure s = kernels::make_sparse_structure(indices, 2, 3);
  const kernels::FeatureMajor x = kernels::to_feature_major(zeros({4, 3}));
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward(x, zeros({3}), s, Tensor()), "expected values of shape [2]", "[3]");
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward(kernels::to_feature_major(zeros({4, 5})), zeros({2}), s, Tensor()),
                     "expected input with 3 features", "[5, 16]");
  WISP_REQUIRE_ERROR(kernels::sparse_linear_backward(zeros({4, 7}), x, zeros({2}), s, true, true, true),
                     "expected grad_output of shape [rows, 2]", "[4, 7]");
  WISP_REQUIRE_ERROR(kernels::sparse_linear_backward(zeros({5, 2}), x, zeros({2}), s, false, true, false),
                     "expected input with 5 rows", "4");
  WISP_REQUIRE_ERROR(kernels::make_sparse_structure(indices, 2, 3, DType::Float32), "int32 or int64", "float32");
  kernels::SparseStructure broken = s;
  broken.csc_to_value = zeros({1}, DType::Int32);
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward(x, zeros({2}), broken, Tensor()), "csc_to_value", "[2]", "[1]");
}

TEST_CASE("sparse kernels: bfloat16 operands give the float32 kernels' results on the rounded operands",
          "[sparse_kernels][bfloat16]") {
  manual_seed(4);
  const int64_t out = 50, in = 70;
  const Tensor indices = random_indices(out, in, 0.25);
  const int64_t nnz = indices.size(1);
  const int64_t rows = GENERATE(1, 2, 17, 64, 80);
  INFO("rows " << rows);
  const kernels::SparseStructure s = kernels::make_sparse_structure(indices, out, in);
  const Tensor w = randn({nnz}), b = randn({out}), x = randn({rows, in}), g = randn({rows, out});
  const Tensor w16 = w.to(DType::BFloat16), w_rounded = w16.to(DType::Float32);
  const Tensor x_rounded = x.to(DType::BFloat16).to(DType::Float32);
  const kernels::FeatureMajor x16 = kernels::to_feature_major(x, DType::BFloat16);
  CHECK(x16.data.dtype() == (rows >= 2 ? DType::BFloat16 : DType::Float32));  // one row is never copied
  const kernels::FeatureMajor x_reference = kernels::to_feature_major(rows >= 2 ? x_rounded : x);

  const Tensor y = kernels::sparse_linear_forward(x16, w16, s, b);
  const Tensor y_reference = kernels::sparse_linear_forward(x_reference, w_rounded, s, b);
  const kernels::SparseLinearGradients ours = kernels::sparse_linear_backward(g, x16, w16, s, true, true, false);
  const kernels::SparseLinearGradients theirs =
      kernels::sparse_linear_backward(g, x_reference, w_rounded, s, true, true, false);
  CHECK(values(ours.values) == values(theirs.values));
  if (rows >= 2) {
    // The batch tiles widen each operand exactly and sum in the same order: the same bits.
    CHECK(values(y) == values(y_reference));
    CHECK(values(ours.input) == values(theirs.input));
  } else {
    // One row sums in the compiler's vector order, which differs between the element types.
    require_close(y, y_reference, 1e-5f);
    require_close(ours.input, theirs.input, 1e-5f);
  }
}

TEST_CASE("sparse kernels: bfloat16 operands are checked", "[sparse_kernels][bfloat16][errors]") {
  const Tensor indices = from_vector<int64_t>({0, 1, 1, 0}, {2, 2});
  const kernels::SparseStructure s = kernels::make_sparse_structure(indices, 2, 3);
  const kernels::FeatureMajor x = kernels::to_feature_major(zeros({4, 3}));
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward(x, zeros({2}, DType::Int32), s, Tensor()),
                     "expected values of dtype float32 or bfloat16 but got int32");
  WISP_REQUIRE_ERROR(kernels::to_feature_major(zeros({4, 3}), DType::Int32),
                     "to_feature_major: expected a float32 or bfloat16 copy but got int32");
  kernels::FeatureMajor one_row;
  one_row.rows = 1;
  one_row.data = zeros({3, 1}).to(DType::BFloat16);
  WISP_REQUIRE_ERROR(kernels::sparse_linear_forward(one_row, zeros({2}), s, Tensor()),
                     "expected a float32 input for a single row");
}
