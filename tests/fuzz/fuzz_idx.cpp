// libFuzzer target: data::parse_idx on arbitrary bytes (raw or gzip IDX). Every input must either
// parse into a tensor that matches its header or throw wisp::Error; anything else (a crash, a
// sanitizer report, another exception, a wrong tensor) is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "wisp/core/tensor.h"
#include "wisp/data/idx.h"

namespace {

void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz_idx: %s\n", what);
  std::abort();
}

uint32_t load_u32_be(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// What a raw (not gzip) input that parsed must have given: the header's shape, every data byte
// (unsigned bytes are copied as they are), and nothing after them.
void check_raw(const uint8_t* data, size_t size, const wisp::Tensor& tensor) {
  require(size >= 4 && data[0] == 0 && data[1] == 0, "accepted a file without the IDX magic number");
  const size_t rank = data[3];
  require(rank >= 1 && rank <= 16 && size >= 4 + 4 * rank, "accepted a bad rank or a truncated header");
  require(tensor.dim() == static_cast<int64_t>(rank), "the tensor's rank is not the header's");
  for (size_t d = 0; d < rank; ++d)
    require(tensor.size(static_cast<int64_t>(d)) == load_u32_be(data + 4 + 4 * d), "a size is not the header's");
  const size_t element_bytes = data[2] == 0x08 || data[2] == 0x09 ? 1 : data[2] == 0x0B ? 2 : data[2] == 0x0E ? 8 : 4;
  const size_t header = 4 + 4 * rank;
  require(size - header == static_cast<size_t>(tensor.numel()) * element_bytes,
          "accepted data whose length does not match the dimensions");
  if (data[2] == 0x08 && tensor.numel() > 0)
    require(std::memcmp(tensor.data<uint8_t>(), data + header, size - header) == 0, "unsigned bytes changed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wisp::Tensor tensor;
  try {
    tensor = wisp::data::parse_idx(data, size, "fuzz input");
  } catch (const wisp::Error&) {
    return 0;
  }
  require(tensor.defined() && tensor.is_cpu(), "parse_idx returned an undefined or non-CPU tensor");
  const bool gzipped = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (!gzipped) check_raw(data, size, tensor);
  return 0;
}
