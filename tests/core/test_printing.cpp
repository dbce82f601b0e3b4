// std::cout << tensor prints like PyTorch.
#include <cstdint>
#include <sstream>

#include "test_helpers.h"

using namespace wisp;
using wisp::testing::printed;

TEST_CASE("tensors print like PyTorch", "[core][printing]") {
  CHECK(printed(from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3})) ==
        "tensor([[1., 2., 3.],\n        [4., 5., 6.]])");
  CHECK(printed(from_vector(std::vector<int64_t>{3, 1})) == "tensor([3, 1])");
  CHECK(printed(from_vector(std::vector<float>{0.5f, -1.25f, 2.0f})) == "tensor([ 0.5000, -1.2500,  2.0000])");
  CHECK(printed(full({}, 3.5)) == "tensor(3.5000)");
  CHECK(printed(zeros({0})) == "tensor([])");
  CHECK(printed(zeros({2, 0})) == "tensor([], size=[2, 0])");
  CHECK(printed(from_vector(std::vector<uint8_t>{1, 0})) == "tensor([1, 0], dtype=uint8)");
  CHECK(printed(from_vector(std::vector<int32_t>{-7})) == "tensor([-7], dtype=int32)");
  CHECK(printed(from_vector(std::vector<float>{1e-5f, 1.0f})) == "tensor([1.0000e-05, 1.0000e+00])");
  // Whole numbers spanning more than 1000x print in scientific notation too, as PyTorch's int mode.
  CHECK(printed(from_vector(std::vector<float>{1, 10000})) == "tensor([1.0000e+00, 1.0000e+04])");
  CHECK(printed(from_vector(std::vector<float>{-3, 5000})) == "tensor([-3.0000e+00,  5.0000e+03])");
  CHECK(printed(from_vector(std::vector<float>{0, 1000, 2000})) == "tensor([   0., 1000., 2000.])");
  CHECK(printed(Tensor()) == "tensor(undefined)");
}

TEST_CASE("int64 values print exactly, beyond double's 2^53 too", "[core][printing]") {
  // PyTorch 1.13 prints exactly this.
  const std::vector<int64_t> big{9007199254740993LL, INT64_MAX, INT64_MIN};
  CHECK(printed(from_vector(big)) == "tensor([    9007199254740993,  9223372036854775807, -9223372036854775808])");
}

TEST_CASE("three-dimensional tensors separate blocks with a blank line", "[core][printing]") {
  CHECK(printed(arange(8, DType::Int64).view({2, 2, 2})) ==
        "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])");
}

TEST_CASE("large tensors are summarised", "[core][printing]") {
  const std::string text = printed(arange(2000, DType::Int64));
  CHECK(text == "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])");
  // PyTorch 1.13's print(torch.zeros(100, 100)), character for character.
  CHECK(printed(zeros({100, 100})) ==
        "tensor([[0., 0., 0.,  ..., 0., 0., 0.],\n"
        "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
        "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
        "        ...,\n"
        "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
        "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
        "        [0., 0., 0.,  ..., 0., 0., 0.]])");
}

TEST_CASE("autograd state shows in the printout", "[core][printing]") {
  Tensor a = ones({2});
  a.set_requires_grad(true);
  CHECK(printed(a) == "tensor([1., 1.], requires_grad=True)");
  CHECK(printed(a * a) == "tensor([1., 1.], grad_fn=<MulBackward>)");
  CHECK(printed(Device::cpu()) == "cpu");
  CHECK(printed(Device::cuda(1)) == "cuda:1");
  CHECK(printed(DType::Int64) == "int64");
}
