// safetensors files, the format PyTorch, JAX and every Hugging Face library read
// (https://github.com/huggingface/safetensors): 8 bytes holding N, the header's length, as a
// little-endian uint64; N bytes of UTF-8 JSON describing each tensor; then the tensors' bytes,
// little-endian and row-major, back to back.
//
//   {"__metadata__": {"format": "pt"},
//    "fc.weights": {"dtype": "F32", "shape": [300], "data_offsets": [0, 1200]}, ...}
//
// data_offsets are [begin, end) into the data section (file offset 8 + N). The reader is strict,
// as the reference reader is and beyond: a file is accepted only when the tensors tile the data
// section exactly (no gap, no overlap, no trailing bytes), every size fits without overflow, every
// key appears once at every level, and names are non-empty UTF-8 without NUL. The header is read by
// a parser of exactly this grammar (no recursion, so no nesting depth to exhaust), and its length is
// checked against the file and kMaxHeaderLength before anything is allocated. Every failure is a
// wisp::Error naming the file.
//
// The writer follows the reference writer, so that identical tensors give byte-identical files:
// metadata first, tensors ordered by decreasing element size and then by name (each starts aligned
// to its element size), the header padded with spaces to a multiple of 8 bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wisp/core/tensor.h"

namespace wisp::serialization {

// The reference reader's limit: a longer header is refused before it is read.
constexpr uint64_t kMaxHeaderLength = 100'000'000;

// One tensor of a safetensors header.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;           // the file's dtype name: "F32", "I64", "BF16", ...
  std::vector<int64_t> shape;  // row-major; [] for a scalar; sizes may be 0
  uint64_t begin = 0;          // [begin, end): bytes of the data section
  uint64_t end = 0;

  uint64_t nbytes() const { return end - begin; }
  int64_t numel() const;
};

// A validated header.
struct SafetensorsHeader {
  uint64_t header_length = 0;                   // N
  std::map<std::string, std::string> metadata;  // "__metadata__": strings only
  std::vector<SafetensorsEntry> entries;        // in data order (increasing begin)

  // The entry named `name`, or nullptr.
  const SafetensorsEntry* find(const std::string& name) const;
  // Where the data section starts in the file.
  uint64_t data_offset() const { return 8 + header_length; }
};

// The file's dtype name of a wisp dtype: "F32", "I64", "I32", "U8".
const char* safetensors_dtype_name(DType dtype);
// The wisp dtype of a file's dtype name; false when wisp has no such dtype (e.g. "F16").
bool dtype_from_safetensors(const std::string& name, DType* dtype);

// Parses and validates a header: `header` is the N bytes after the length prefix, `data_length`
// the number of bytes after them. `source` names the file in errors.
SafetensorsHeader parse_header(std::string_view header, uint64_t data_length, const std::string& source);

// Parses and validates a whole file held in memory (length prefix, header, data).
SafetensorsHeader parse_file_bytes(std::string_view bytes, const std::string& source);

// Reads tensors from a safetensors file. The constructor opens the file, checks that it is a regular
// file, reads and validates the header against the file's size; read() then reads one tensor's
// bytes straight into a new tensor (no whole-file buffer).
class SafetensorsReader {
 public:
  explicit SafetensorsReader(const std::string& path);
  ~SafetensorsReader();
  SafetensorsReader(const SafetensorsReader&) = delete;
  SafetensorsReader& operator=(const SafetensorsReader&) = delete;

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  bool contains(const std::string& name) const { return header_.find(name) != nullptr; }
  // The tensor `name` as a new CPU tensor of its dtype and shape. Throws when the file has no such
  // tensor or its dtype is not one wisp holds.
  Tensor read(const std::string& name) const;

 private:
  std::string path_;
  int descriptor_ = -1;
  uint64_t file_size_ = 0;
  SafetensorsHeader header_;
};

// Collects tensors and metadata, then writes them as one safetensors file. Nothing is buffered: the
// header is built from the tensors' dtypes and shapes, then each tensor's bytes go to the file
// straight from the tensor (a GPU tensor through one host copy at a time).
class SafetensorsWriter {
 public:
  // Adds a tensor (any device; contiguous, as every wisp tensor is). The handle is kept and its
  // values are read when the file is written. Throws on a repeated or invalid name.
  void add(const std::string& name, const Tensor& tensor);
  // Adds a tensor computed only when the file is written: `produce` is called once per write, just
  // before the tensor's bytes are written, must return a tensor of `dtype` and `shape` (else the
  // write throws), and its result is released right after. A writer of computed tensors (a
  // SparseLinear's COO indices) thereby holds one of them at a time, not all of them.
  void add(const std::string& name, DType dtype, const Shape& shape, std::function<Tensor()> produce);
  // Adds a "__metadata__" entry (strings only, as the format requires). Throws on a repeated key.
  void add_metadata(const std::string& key, const std::string& value);

  // The header's JSON (padded), as write() puts it in the file.
  std::string header_json() const;
  // The whole file in memory.
  std::string to_bytes() const;
  // Writes the file crash-safely (serialization/atomic_file.h): `path` afterwards holds either its
  // old contents or the complete new file, never a torn one. Tensors are streamed one at a time.
  void write(const std::string& path) const;

 private:
  struct Pending {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t nbytes;
    std::function<Tensor()> produce;
  };
  // The tensors in file order (decreasing element size, then name).
  std::vector<const Pending*> ordered() const;
  // Writes the whole file to `sink`, one tensor at a time.
  void emit(const std::function<void(const void*, size_t)>& sink) const;

  std::vector<Pending> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace wisp::serialization
