// libFuzzer target: serialization::parse_file_bytes on arbitrary bytes (a whole safetensors file).
// Every input must either be refused with wisp::Error or give a header whose tensors tile the data
// exactly; an accepted file whose tensors wisp can hold must survive a rewrite by SafetensorsWriter
// byte for byte in its data. Anything else (a crash, a sanitizer report, another exception, a wrong
// header) is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "wisp/core/tensor.h"
#include "wisp/serialization/safetensors.h"

namespace {

void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz_safetensors: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wisp::serialization;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  SafetensorsHeader header;
  try {
    header = parse_file_bytes(bytes, "fuzz input");
  } catch (const wisp::Error&) {
    return 0;
  }
  require(size >= 8 + header.header_length, "accepted a header longer than the file");
  uint64_t expected_begin = 0;
  for (const SafetensorsEntry& entry : header.entries) {
    require(entry.begin == expected_begin && entry.end >= entry.begin, "accepted a gap or an overlap");
    require(!entry.name.empty() && entry.name.find('\0') == std::string::npos, "accepted a bad name");
    expected_begin = entry.end;
  }
  require(expected_begin == size - 8 - header.header_length, "accepted trailing or missing bytes");

  // Rewrite what wisp can hold (small tensors only, to keep runs fast) and parse the result.
  SafetensorsWriter writer;
  for (const auto& [key, value] : header.metadata) writer.add_metadata(key, value);
  for (const SafetensorsEntry& entry : header.entries) {
    wisp::DType dtype;
    if (!dtype_from_safetensors(entry.dtype, &dtype) || entry.nbytes() > (1u << 20)) return 0;
    wisp::Tensor tensor = wisp::empty(wisp::Shape(entry.shape), wisp::TensorOptions(dtype));
    if (entry.nbytes() > 0) std::memcpy(tensor.raw_data(), data + header.data_offset() + entry.begin, entry.nbytes());
    writer.add(entry.name, tensor);
  }
  const std::string rewritten = writer.to_bytes();
  const SafetensorsHeader again = parse_file_bytes(rewritten, "rewritten fuzz input");
  require(again.entries.size() == header.entries.size() && again.metadata == header.metadata,
          "a rewrite lost tensors or metadata");
  for (const SafetensorsEntry& entry : again.entries) {
    const SafetensorsEntry* original = header.find(entry.name);
    require(original != nullptr && original->shape == entry.shape && original->dtype == entry.dtype,
            "a rewrite changed a tensor's name, shape or dtype");
    require(std::memcmp(rewritten.data() + again.data_offset() + entry.begin,
                        data + header.data_offset() + original->begin, entry.nbytes()) == 0,
            "a rewrite changed a tensor's bytes");
  }
  return 0;
}
