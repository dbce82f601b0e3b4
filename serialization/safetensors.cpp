#include "wisp/serialization/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "wisp/serialization/atomic_file.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors files are little-endian; wisp writes tensors' bytes as they are in memory"
#endif

namespace wisp::serialization {
namespace {

// Every dtype of the format with its size in bits, so that a file holding dtypes wisp cannot read
// is still validated (and its other tensors read).
struct DTypeInfo {
  const char* name;
  int bits;
};
constexpr DTypeInfo kDTypes[] = {
    {"BOOL", 8},    {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6},     {"U8", 8},          {"I8", 8},
    {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16},
    {"U16", 16},    {"F16", 16},    {"BF16", 16},   {"I32", 32},        {"U32", 32},        {"F32", 32},
    {"C64", 64},    {"F64", 64},    {"I64", 64},    {"U64", 64},
};

int dtype_bits(const std::string& name) {
  for (const DTypeInfo& info : kDTypes)
    if (name == info.name) return info.bits;
  return 0;
}

[[noreturn]] void fail_file(const std::string& source, const std::string& what) {
  throw Error(source + ": not a valid safetensors file: " + what);
}

// Length of the UTF-8 sequence starting at text[i], or 0 when it is not valid UTF-8 (overlong forms,
// surrogates and code points above U+10FFFF are invalid, as in RFC 3629).
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length;
  uint32_t code_point;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code_point = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code_point = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code_point < kSmallest[length] || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF))
    return 0;
  return length;
}

void append_utf8(std::string& out, uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

// The header's grammar and nothing more: an object whose values are "__metadata__" (an object of
// strings) or tensor entries (objects with exactly "dtype", "shape" and "data_offsets"). JSON
// whitespace is accepted around every token, as the reference reader does (writers may pad).
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  SafetensorsHeader parse() {
    for (size_t i = 0; i < text_.size();) {
      const size_t length = utf8_sequence_length(text_, i);
      if (length == 0) fail_at(i, "the header is not valid UTF-8");
      i += length;
    }
    SafetensorsHeader header;
    header.header_length = text_.size();
    std::vector<std::string> names;
    expect('{', "the header to be a JSON object");
    if (!consume('}')) {
      do {
        const size_t key_position = position_;
        std::string key = parse_string();
        expect(':', "':' after a key");
        if (key == "__metadata__") {
          if (seen_metadata_) fail_at(key_position, "duplicate key \"__metadata__\"");
          seen_metadata_ = true;
          parse_metadata(header.metadata);
        } else {
          check_tensor_name(key, key_position);
          names.push_back(key);
          header.entries.push_back(parse_entry(std::move(key)));
        }
      } while (consume(','));
      expect('}', "',' or '}' in the header object");
    }
    skip_whitespace();
    if (position_ != text_.size()) fail_at(position_, "unexpected bytes after the header object");
    std::sort(names.begin(), names.end());
    const auto duplicate = std::adjacent_find(names.begin(), names.end());
    if (duplicate != names.end()) fail("duplicate tensor name \"" + *duplicate + "\"");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& what) { fail_file(source_, what); }
  [[noreturn]] void fail_at(size_t position, const std::string& what) {
    fail(what + " (header byte " + std::to_string(position) + " of " + std::to_string(text_.size()) + ")");
  }

  void skip_whitespace() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\t' ||
                                        text_[position_] == '\n' || text_[position_] == '\r'))
      ++position_;
  }
  bool consume(char c) {
    skip_whitespace();
    if (position_ < text_.size() && text_[position_] == c) {
      ++position_;
      return true;
    }
    return false;
  }
  void expect(char c, const char* what) {
    if (!consume(c)) fail_at(position_, std::string("expected ") + what);
  }

  uint32_t parse_hex4() {
    if (position_ + 4 > text_.size()) fail_at(position_, "truncated \\u escape");
    uint32_t value = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text_[position_++];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        fail_at(position_ - 1, "invalid \\u escape");
      }
    }
    return value;
  }

  std::string parse_string() {
    expect('"', "a string");
    std::string out;
    while (true) {
      if (position_ >= text_.size()) fail_at(position_, "unterminated string");
      const char c = text_[position_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail_at(position_ - 1, "control character in a string");
      if (c != '\\') {
        out += c;  // the whole header was checked to be UTF-8
        continue;
      }
      if (position_ >= text_.size()) fail_at(position_, "unterminated string");
      const char escaped = text_[position_++];
      switch (escaped) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t code_point = parse_hex4();
          if (code_point >= 0xDC00 && code_point <= 0xDFFF) fail_at(position_ - 6, "unpaired UTF-16 surrogate");
          if (code_point >= 0xD800 && code_point <= 0xDBFF) {
            if (position_ + 2 > text_.size() || text_[position_] != '\\' || text_[position_ + 1] != 'u')
              fail_at(position_, "unpaired UTF-16 surrogate");
            position_ += 2;
            const uint32_t low = parse_hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail_at(position_ - 6, "unpaired UTF-16 surrogate");
            code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, code_point);
          break;
        }
        default:
          fail_at(position_ - 1, std::string("invalid escape \\") + escaped);
      }
    }
  }

  // A non-negative integer without sign, fraction or exponent, at most int64's largest.
  int64_t parse_integer(const std::string& what) {
    skip_whitespace();
    const size_t start = position_;
    if (position_ < text_.size() && text_[position_] == '-')
      fail_at(start, "expected a non-negative integer in " + what + " but got a negative number");
    uint64_t value = 0;
    while (position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9') {
      const uint64_t digit = static_cast<uint64_t>(text_[position_] - '0');
      if (value > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - digit) / 10)
        fail_at(start, "integer in " + what + " larger than 2^63 - 1");
      value = value * 10 + digit;
      ++position_;
    }
    if (position_ == start) fail_at(start, "expected a non-negative integer in " + what);
    if (text_[start] == '0' && position_ - start > 1) fail_at(start, "integer with a leading zero in " + what);
    if (position_ < text_.size() && (text_[position_] == '.' || text_[position_] == 'e' || text_[position_] == 'E'))
      fail_at(start, "expected an integer in " + what + " but got a fraction or exponent");
    return static_cast<int64_t>(value);
  }

  std::vector<int64_t> parse_integer_array(const std::string& what) {
    std::vector<int64_t> values;
    expect('[', ("an array for " + what).c_str());
    if (consume(']')) return values;
    do {
      values.push_back(parse_integer(what));
    } while (consume(','));
    expect(']', ("',' or ']' in " + what).c_str());
    return values;
  }

  void parse_metadata(std::map<std::string, std::string>& metadata) {
    expect('{', "an object of strings for \"__metadata__\"");
    if (consume('}')) return;
    do {
      const size_t key_position = position_;
      std::string key = parse_string();
      expect(':', "':' after a key");
      skip_whitespace();
      if (position_ >= text_.size() || text_[position_] != '"')
        fail_at(position_, "expected a string value for \"__metadata__\" key \"" + key + "\"");
      std::string value = parse_string();
      if (!metadata.emplace(std::move(key), std::move(value)).second)
        fail_at(key_position, "duplicate key in \"__metadata__\"");
    } while (consume(','));
    expect('}', "',' or '}' in \"__metadata__\"");
  }

  void check_tensor_name(const std::string& name, size_t position) {
    if (name.empty()) fail_at(position, "empty tensor name");
    if (name.find('\0') != std::string::npos) fail_at(position, "tensor name containing a NUL character");
  }

  SafetensorsEntry parse_entry(std::string name) {
    SafetensorsEntry entry;
    entry.name = std::move(name);
    const std::string where = "tensor \"" + entry.name + "\"";
    bool has_dtype = false, has_shape = false, has_offsets = false;
    expect('{', ("an object for " + where).c_str());
    if (!consume('}')) {
      do {
        const size_t key_position = position_;
        const std::string key = parse_string();
        expect(':', "':' after a key");
        bool* seen = nullptr;
        if (key == "dtype") {
          seen = &has_dtype;
          entry.dtype = parse_string();
          if (dtype_bits(entry.dtype) == 0) fail("unknown dtype \"" + entry.dtype + "\" of " + where);
        } else if (key == "shape") {
          seen = &has_shape;
          entry.shape = parse_integer_array("the shape of " + where);
        } else if (key == "data_offsets") {
          seen = &has_offsets;
          const std::vector<int64_t> offsets = parse_integer_array("the data_offsets of " + where);
          if (offsets.size() != 2)
            fail("expected 2 data_offsets for " + where + " but got " + std::to_string(offsets.size()));
          entry.begin = static_cast<uint64_t>(offsets[0]);
          entry.end = static_cast<uint64_t>(offsets[1]);
        } else {
          fail_at(key_position, "unexpected key \"" + key + "\" in " + where +
                                    " (expected \"dtype\", \"shape\" and \"data_offsets\")");
        }
        if (*seen) fail_at(key_position, "duplicate key \"" + key + "\" in " + where);
        *seen = true;
      } while (consume(','));
      expect('}', ("',' or '}' in " + where).c_str());
    }
    if (!has_dtype || !has_shape || !has_offsets)
      fail(where + " lacks \"" + (!has_dtype ? "dtype" : !has_shape ? "shape" : "data_offsets") + "\"");
    return entry;
  }

  std::string_view text_;
  const std::string& source_;
  size_t position_ = 0;
  bool seen_metadata_ = false;
};

// Checks sizes and the tiling of the data section; sorts the entries into data order.
void check_layout(SafetensorsHeader& header, uint64_t data_length, const std::string& source) {
  for (const SafetensorsEntry& entry : header.entries) {
    const std::string where = "tensor \"" + entry.name + "\"";
    uint64_t elements = 1;
    for (const int64_t size : entry.shape) {
      if (size != 0 && elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / size)
        fail_file(source, "the shape of " + where + " has more elements than 2^63 - 1");
      elements *= static_cast<uint64_t>(size);
    }
    const uint64_t bits_per_element = static_cast<uint64_t>(dtype_bits(entry.dtype));
    if (elements > std::numeric_limits<uint64_t>::max() / bits_per_element)
      fail_file(source, "the byte size of " + where + " overflows");
    const uint64_t bits = elements * bits_per_element;
    if (bits % 8 != 0)
      fail_file(source, where + " of dtype " + entry.dtype + " holds " + std::to_string(elements) +
                            " elements, which do not fill whole bytes");
    if (entry.end < entry.begin)
      fail_file(source, "the data_offsets of " + where + " end (" + std::to_string(entry.end) +
                            ") before they begin (" + std::to_string(entry.begin) + ")");
    if (entry.end - entry.begin != bits / 8)
      fail_file(source, where + " of dtype " + entry.dtype + " and " + std::to_string(elements) + " elements needs " +
                            std::to_string(bits / 8) + " bytes but its data_offsets [" + std::to_string(entry.begin) +
                            ", " + std::to_string(entry.end) + ") hold " + std::to_string(entry.end - entry.begin));
  }
  std::sort(header.entries.begin(), header.entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected_begin = 0;
  for (const SafetensorsEntry& entry : header.entries) {
    if (entry.begin != expected_begin)
      fail_file(source, "tensor \"" + entry.name + "\" begins at data byte " + std::to_string(entry.begin) +
                            " but the previous tensor ends at " + std::to_string(expected_begin) +
                            (entry.begin < expected_begin ? " (overlapping tensors)" : " (a gap)"));
    expected_begin = entry.end;
  }
  if (expected_begin != data_length)
    fail_file(source, "the tensors cover " + std::to_string(expected_begin) + " bytes of data but the file holds " +
                          std::to_string(data_length) +
                          (expected_begin < data_length ? " (trailing bytes)" : " (the file is truncated)"));
}

uint64_t read_length_prefix(const unsigned char* bytes) {
  uint64_t length = 0;
  for (int k = 7; k >= 0; --k) length = (length << 8) | bytes[k];
  return length;
}

void check_header_length(uint64_t header_length, uint64_t file_size, const std::string& source) {
  if (header_length > kMaxHeaderLength)
    fail_file(source, "its header length " + std::to_string(header_length) + " exceeds the limit of " +
                          std::to_string(kMaxHeaderLength) + " bytes");
  if (header_length > file_size - 8)
    fail_file(source, "its header length " + std::to_string(header_length) + " runs past the end of the file (" +
                          std::to_string(file_size) + " bytes)");
}

std::string system_error() { return std::strerror(errno); }

// Reads exactly `size` bytes at `offset`, or throws naming the file.
void read_exactly(int descriptor, void* destination, uint64_t size, uint64_t offset, const std::string& path) {
  char* out = static_cast<char*>(destination);
  while (size > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(size, 1u << 30));
    const ssize_t got = ::pread(descriptor, out, chunk, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    WISP_CHECK(got > 0, path, ": reading ", size, " bytes at offset ", offset,
               " failed: ", got < 0 ? system_error() : std::string("the file is shorter than when it was opened"));
    out += got;
    offset += static_cast<uint64_t>(got);
    size -= static_cast<uint64_t>(got);
  }
}

void append_json_string(std::string& out, const std::string& text) {
  out += '"';
  for (const char c : text) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

void check_name(const std::string& what, const std::string& name) {
  WISP_CHECK(!name.empty(), "SafetensorsWriter: expected a non-empty ", what);
  // Not printed: the message would end at the NUL.
  WISP_CHECK(name.find('\0') == std::string::npos, "SafetensorsWriter: a ", what, " contains a NUL character");
  for (size_t i = 0; i < name.size();) {
    const size_t length = utf8_sequence_length(name, i);
    WISP_CHECK(length != 0, "SafetensorsWriter: ", what, " \"", name, "\" is not valid UTF-8");
    i += length;
  }
}

}  // namespace

int64_t SafetensorsEntry::numel() const {
  int64_t count = 1;
  for (const int64_t size : shape) count *= size;  // validated not to overflow
  return count;
}

const SafetensorsEntry* SafetensorsHeader::find(const std::string& name) const {
  for (const SafetensorsEntry& entry : entries)
    if (entry.name == name) return &entry;
  return nullptr;
}

const char* safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "F32";
    case DType::Int64:
      return "I64";
    case DType::Int32:
      return "I32";
    case DType::UInt8:
      return "U8";
    case DType::UInt16:
      return "U16";
    case DType::BFloat16:
      return "BF16";
  }
  throw Error("safetensors_dtype_name: unknown dtype");
}

bool dtype_from_safetensors(const std::string& name, DType* dtype) {
  for (const DType candidate :
       {DType::Float32, DType::Int64, DType::Int32, DType::UInt8, DType::UInt16, DType::BFloat16}) {
    if (name == safetensors_dtype_name(candidate)) {
      *dtype = candidate;
      return true;
    }
  }
  return false;
}

SafetensorsHeader parse_header(std::string_view header, uint64_t data_length, const std::string& source) {
  SafetensorsHeader parsed = HeaderParser(header, source).parse();
  check_layout(parsed, data_length, source);
  return parsed;
}

SafetensorsHeader parse_file_bytes(std::string_view bytes, const std::string& source) {
  if (bytes.size() < 8)
    fail_file(source, "it holds " + std::to_string(bytes.size()) + " bytes, fewer than the 8 of the length prefix");
  const uint64_t header_length = read_length_prefix(reinterpret_cast<const unsigned char*>(bytes.data()));
  check_header_length(header_length, bytes.size(), source);
  return parse_header(bytes.substr(8, header_length), bytes.size() - 8 - header_length, source);
}

SafetensorsReader::SafetensorsReader(const std::string& path) : path_(path) {
  descriptor_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  WISP_CHECK(descriptor_ >= 0, "cannot open '", path, "': ", system_error());
  struct stat status {};
  if (::fstat(descriptor_, &status) != 0 || !S_ISREG(status.st_mode)) {
    ::close(descriptor_);
    descriptor_ = -1;
    throw Error("cannot read '" + path + "': expected a regular file (a FIFO, device or folder is not a model file)");
  }
  file_size_ = static_cast<uint64_t>(status.st_size);
  try {
    if (file_size_ < 8)
      fail_file(path, "it holds " + std::to_string(file_size_) + " bytes, fewer than the 8 of the length prefix");
    unsigned char prefix[8];
    read_exactly(descriptor_, prefix, 8, 0, path);
    const uint64_t header_length = read_length_prefix(prefix);
    check_header_length(header_length, file_size_, path);
    std::string header(static_cast<size_t>(header_length), '\0');
    read_exactly(descriptor_, header.data(), header_length, 8, path);
    header_ = parse_header(header, file_size_ - 8 - header_length, path);
  } catch (...) {
    ::close(descriptor_);
    descriptor_ = -1;
    throw;
  }
}

SafetensorsReader::~SafetensorsReader() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

Tensor SafetensorsReader::read(const std::string& name) const {
  const SafetensorsEntry* entry = header_.find(name);
  WISP_CHECK(entry != nullptr, path_, ": no tensor named \"", name, "\"");
  DType dtype;
  WISP_CHECK(dtype_from_safetensors(entry->dtype, &dtype), path_, ": tensor \"", name, "\" has dtype ", entry->dtype,
             ", which wisp does not hold (it reads F32, I64, I32 and U8)");
  Tensor tensor = empty(Shape(entry->shape), TensorOptions(dtype));
  if (entry->nbytes() > 0)
    read_exactly(descriptor_, tensor.raw_data(), entry->nbytes(), header_.data_offset() + entry->begin, path_);
  return tensor;
}

void SafetensorsWriter::add(const std::string& name, const Tensor& tensor) {
  WISP_CHECK(tensor.defined(), "SafetensorsWriter: tensor \"", name, "\" is undefined");
  add(name, tensor.dtype(), tensor.shape(), [tensor] { return tensor; });
}

void SafetensorsWriter::add(const std::string& name, DType dtype, const Shape& shape, std::function<Tensor()> produce) {
  check_name("tensor name", name);
  WISP_CHECK(name != "__metadata__", "SafetensorsWriter: \"__metadata__\" is reserved for metadata, not a tensor name");
  WISP_CHECK(produce, "SafetensorsWriter: tensor \"", name, "\" has no function producing it");
  for (const Pending& pending : tensors_)
    WISP_CHECK(pending.name != name, "SafetensorsWriter: tensor name \"", name, "\" added twice");
  int64_t elements = 1;
  for (const int64_t size : shape) {
    WISP_CHECK(size >= 0, "SafetensorsWriter: tensor \"", name, "\" has a negative size in shape ", shape);
    elements *= size;
  }
  tensors_.push_back({name, dtype, shape, static_cast<uint64_t>(elements) * element_size(dtype), std::move(produce)});
}

void SafetensorsWriter::add_metadata(const std::string& key, const std::string& value) {
  check_name("metadata key", key);
  for (size_t i = 0; i < value.size();) {
    const size_t length = utf8_sequence_length(value, i);
    WISP_CHECK(length != 0, "SafetensorsWriter: the value of metadata key \"", key, "\" is not valid UTF-8");
    i += length;
  }
  WISP_CHECK(metadata_.emplace(key, value).second, "SafetensorsWriter: metadata key \"", key, "\" added twice");
}

std::vector<const SafetensorsWriter::Pending*> SafetensorsWriter::ordered() const {
  std::vector<const Pending*> order;
  for (const Pending& pending : tensors_) order.push_back(&pending);
  std::sort(order.begin(), order.end(), [](const Pending* a, const Pending* b) {
    const size_t size_a = element_size(a->dtype), size_b = element_size(b->dtype);
    return size_a != size_b ? size_a > size_b : a->name < b->name;
  });
  return order;
}

std::string SafetensorsWriter::header_json() const {
  std::string json = "{";
  bool first = true;
  if (!metadata_.empty()) {
    json += "\"__metadata__\":{";
    for (const auto& [key, value] : metadata_) {
      if (!first) json += ',';
      first = false;
      append_json_string(json, key);
      json += ':';
      append_json_string(json, value);
    }
    json += '}';
    first = false;
  }
  uint64_t offset = 0;
  for (const Pending* pending : ordered()) {
    if (!first) json += ',';
    first = false;
    append_json_string(json, pending->name);
    json += ":{\"dtype\":\"";
    json += safetensors_dtype_name(pending->dtype);
    json += "\",\"shape\":[";
    bool first_size = true;
    for (const int64_t size : pending->shape) {
      if (!first_size) json += ',';
      first_size = false;
      json += std::to_string(size);
    }
    const uint64_t end = offset + pending->nbytes;
    json += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(end) + "]}";
    offset = end;
  }
  json += '}';
  json.append((8 - json.size() % 8) % 8, ' ');
  WISP_CHECK(json.size() <= kMaxHeaderLength, "SafetensorsWriter: the header would take ", json.size(),
             " bytes, more than the ", kMaxHeaderLength, " readers accept");
  return json;
}

namespace {

void write_length_prefix(uint64_t length, const std::function<void(const void*, size_t)>& sink) {
  unsigned char prefix[8];
  for (int k = 0; k < 8; ++k) prefix[k] = static_cast<unsigned char>(length >> (8 * k));
  sink(prefix, 8);
}

}  // namespace

// Streams the file: prefix, header, then each tensor's bytes, produced (and copied from a GPU) one
// at a time and released before the next.
void SafetensorsWriter::emit(const std::function<void(const void*, size_t)>& sink) const {
  const std::vector<const Pending*> order = ordered();
  const std::string header = header_json();
  write_length_prefix(header.size(), sink);
  sink(header.data(), header.size());
  for (const Pending* pending : order) {
    if (pending->nbytes == 0) continue;
    const Tensor tensor = pending->produce();
    WISP_CHECK(tensor.defined(), "SafetensorsWriter: tensor \"", pending->name, "\" is undefined when written");
    WISP_CHECK(tensor.dtype() == pending->dtype && tensor.shape() == pending->shape, "SafetensorsWriter: tensor \"",
               pending->name, "\" was added as ", pending->dtype, " ", pending->shape, " but is ", tensor.dtype(), " ",
               tensor.shape(), " when written");
    const Tensor host = tensor.is_cpu() ? tensor : copy_to_device(tensor, Device::cpu());
    sink(host.raw_data(), host.nbytes());
  }
}

std::string SafetensorsWriter::to_bytes() const {
  std::string bytes;
  emit([&](const void* data, size_t size) { bytes.append(static_cast<const char*>(data), size); });
  return bytes;
}

void SafetensorsWriter::write(const std::string& path) const {
  AtomicFileWriter file(path);
  emit([&](const void* data, size_t size) { file.write(data, size); });
  file.commit();
}

}  // namespace wisp::serialization
