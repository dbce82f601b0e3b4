#include "wisp/data/idx.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "wisp/core/factories.h"

namespace wisp::data {
namespace {

// IDX allows up to 255 dimensions; anything past 16 is a corrupt header, not a real data set.
constexpr int kMaxRank = 16;
// zlib takes unsigned lengths (inflate's avail_out, gzwrite's len) and gzwrite returns an int: move
// data in chunks below INT_MAX.
constexpr size_t kGzipChunk = size_t{1} << 24;

std::string hex_byte(uint8_t value) {
  char text[8];
  std::snprintf(text, sizeof(text), "0x%02X", static_cast<unsigned>(value));
  return text;
}

struct IdxType {
  const char* name;
  size_t bytes;  // per element in the file
  DType dtype;   // of the tensor read_idx returns
};

bool idx_type(uint8_t code, IdxType& type) {
  switch (code) {
    case 0x08:
      type = {"unsigned byte", 1, DType::UInt8};
      return true;
    case 0x09:
      type = {"signed byte", 1, DType::Int32};
      return true;
    case 0x0B:
      type = {"int16", 2, DType::Int32};
      return true;
    case 0x0C:
      type = {"int32", 4, DType::Int32};
      return true;
    case 0x0D:
      type = {"float32", 4, DType::Float32};
      return true;
    case 0x0E:
      type = {"float64", 8, DType::Float32};
      return true;
    default:
      return false;
  }
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

std::string quote_path(const std::string& path) { return "'" + path + "'"; }

const char* file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Opens a regular file for reading and returns it with its size. Anything else is refused before a
// read: a FIFO or a terminal could block forever, a device could be endless. O_NONBLOCK keeps the
// open itself from waiting for a FIFO's writer; it changes nothing for regular files.
File open_for_reading(const std::string& path, uint64_t& size) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  WISP_CHECK(descriptor >= 0, "read_idx: cannot open ", quote_path(path), ": ", std::strerror(errno));
  struct stat status {};
  if (::fstat(descriptor, &status) != 0) {
    const int error = errno;
    ::close(descriptor);
    WISP_FAIL("read_idx: cannot tell what ", quote_path(path), " is: ", std::strerror(error));
  }
  if (!S_ISREG(status.st_mode)) {
    ::close(descriptor);
    WISP_CHECK(!S_ISDIR(status.st_mode), "read_idx: cannot read ", quote_path(path),
               ": expected an IDX file but it is a directory");
    WISP_FAIL("read_idx: cannot read ", quote_path(path), ": expected an IDX file but it is ",
              file_kind(status.st_mode), ", not a regular file");
  }
  File file(::fdopen(descriptor, "rb"));
  if (file == nullptr) {
    const int error = errno;
    ::close(descriptor);
    WISP_FAIL("read_idx: cannot open ", quote_path(path), ": ", std::strerror(error));
  }
  size = static_cast<uint64_t>(status.st_size);
  return file;
}

// The stored bytes of an IDX file or buffer, front to back.
class Input {
 public:
  virtual ~Input() = default;
  // Reads up to `count` bytes; fewer only at the end. Throws on read errors.
  virtual size_t read(uint8_t* destination, size_t count) = 0;
};

class FileInput : public Input {
 public:
  FileInput(File file, const std::string& path) : file_(std::move(file)), path_(path) {}
  size_t read(uint8_t* destination, size_t count) override {
    const size_t got = count == 0 ? 0 : std::fread(destination, 1, count, file_.get());
    WISP_CHECK(got == count || !std::ferror(file_.get()), "read_idx: read error in ", quote_path(path_), ": ",
               std::strerror(errno));
    return got;
  }

 private:
  File file_;
  const std::string& path_;
};

class MemoryInput : public Input {
 public:
  MemoryInput(const uint8_t* bytes, size_t size) : bytes_(bytes), size_(size) {}
  size_t read(uint8_t* destination, size_t count) override {
    const size_t got = std::min(count, size_ - position_);
    if (got > 0) std::memcpy(destination, bytes_ + position_, got);
    position_ += got;
    return got;
  }

 private:
  const uint8_t* bytes_;
  size_t size_, position_ = 0;
};

// Sequential bytes of IDX data, as stored (raw) or decompressed (gzip).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `count` bytes; fewer only at the end of the data. Throws on read or gzip errors.
  virtual size_t read(uint8_t* destination, size_t count) = 0;
  // An upper bound on the bytes left (exact for raw data), checked before any allocation so that
  // a corrupt header cannot make us allocate gigabytes.
  virtual uint64_t remaining_bound() const = 0;
  virtual bool remaining_is_exact() const = 0;
  // Reads to the end and returns how many bytes were left.
  uint64_t skip_to_end() {
    std::vector<uint8_t> scratch(size_t{1} << 16);
    uint64_t skipped = 0;
    while (const size_t got = read(scratch.data(), scratch.size())) skipped += got;
    return skipped;
  }
};

class RawSource : public ByteSource {
 public:
  RawSource(Input& input, uint64_t size) : input_(input), size_(size) {}
  size_t read(uint8_t* destination, size_t count) override {
    const size_t got = input_.read(destination, count);
    position_ += got;
    return got;
  }
  uint64_t remaining_bound() const override { return size_ - std::min(position_, size_); }
  bool remaining_is_exact() const override { return true; }

 private:
  Input& input_;
  uint64_t size_ = 0, position_ = 0;
};

// Decompresses a gzip file: one member or several concatenated (RFC 1952 allows a series of
// members, which `gzip -d` decompresses as one stream), and nothing after the last one: bytes that
// do not start another member are refused, as are trailing bytes of raw files.
class GzipSource : public ByteSource {
 public:
  GzipSource(Input& input, const std::string& name, const char* op, uint64_t compressed_size)
      : input_(input), name_(name), op_(op), compressed_size_(compressed_size), buffer_(kGzipInputChunk) {
    const int status = inflateInit2(&stream_, 15 + 16);  // a gzip wrapper only
    WISP_CHECK(status == Z_OK, op_, ": cannot start decompressing ", quote_path(name_), ": ",
               status == Z_MEM_ERROR ? "out of memory" : zError(status));
  }
  ~GzipSource() override { inflateEnd(&stream_); }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  size_t read(uint8_t* destination, size_t count) override {
    size_t done = 0;
    while (done < count && !finished_) {
      if (between_members_) {
        start_next_member();
        continue;
      }
      if (stream_.avail_in == 0 && !input_ended_) input_ended_ = !fill_input(1);
      stream_.next_out = destination + done;
      stream_.avail_out = static_cast<uInt>(std::min(count - done, kGzipChunk));
      const uInt offered = stream_.avail_out;
      const int status = inflate(&stream_, Z_NO_FLUSH);
      const size_t produced = offered - stream_.avail_out;
      done += produced;
      if (status == Z_STREAM_END) {
        between_members_ = true;
      } else if (status == Z_DATA_ERROR || status == Z_NEED_DICT || status == Z_STREAM_ERROR) {
        corrupt(stream_.msg != nullptr ? stream_.msg : zError(status));
      } else if (status == Z_MEM_ERROR) {
        WISP_FAIL(op_, ": out of memory decompressing ", quote_path(name_));
      } else if (input_ended_ && stream_.avail_in == 0 && produced == 0) {
        corrupt("unexpected end of file");  // the member is not finished and no input is left
      }
    }
    return done;
  }
  // Deflate expands at most about 1032:1.
  uint64_t remaining_bound() const override {
    return compressed_size_ > (UINT64_MAX - 1024) / 1032 ? UINT64_MAX : compressed_size_ * 1032 + 1024;
  }
  bool remaining_is_exact() const override { return false; }

 private:
  static constexpr size_t kGzipInputChunk = size_t{1} << 18;

  [[noreturn]] void corrupt(const std::string& why) {
    WISP_FAIL(op_, ": corrupt gzip stream in ", quote_path(name_), ": ", why);
  }

  // Makes at least `want` unread bytes available (moving the unread rest to the front of the
  // buffer); false at the end of the input with fewer.
  bool fill_input(size_t want) {
    if (stream_.avail_in >= want) return true;
    if (stream_.avail_in > 0) std::memmove(buffer_.data(), stream_.next_in, stream_.avail_in);  // next_in may be null
    size_t have = stream_.avail_in;
    while (have < want) {
      const size_t got = input_.read(buffer_.data() + have, buffer_.size() - have);
      if (got == 0) break;
      have += got;
    }
    stream_.next_in = buffer_.data();
    stream_.avail_in = static_cast<uInt>(have);
    return have >= want;
  }

  // After a member's end: the end of the input, another member, or trailing bytes (an error).
  void start_next_member() {
    if (!fill_input(1)) {
      finished_ = true;
      return;
    }
    if (fill_input(2) && stream_.next_in[0] == 0x1f && stream_.next_in[1] == 0x8b) {
      const int status = inflateReset(&stream_);
      WISP_CHECK(status == Z_OK, op_, ": cannot restart decompressing ", quote_path(name_), ": ", zError(status));
      between_members_ = false;
      return;
    }
    uint64_t trailing = stream_.avail_in;
    stream_.avail_in = 0;
    std::vector<uint8_t>& scratch = buffer_;
    while (const size_t got = input_.read(scratch.data(), scratch.size())) trailing += got;
    WISP_FAIL(op_, ": ", quote_path(name_), " has ", trailing,
              " bytes after the end of its gzip stream: expected another gzip member (1f 8b) or the end of the file");
  }

  Input& input_;
  const std::string& name_;
  const char* op_;
  uint64_t compressed_size_;
  std::vector<uint8_t> buffer_;
  z_stream stream_{};
  bool input_ended_ = false, between_members_ = false, finished_ = false;
};

uint32_t load_u32_be(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}
uint64_t load_u64_be(const uint8_t* p) { return uint64_t{load_u32_be(p)} << 32 | load_u32_be(p + 4); }

void store_u32_be(uint32_t value, uint8_t* p) {
  p[0] = static_cast<uint8_t>(value >> 24);
  p[1] = static_cast<uint8_t>(value >> 16);
  p[2] = static_cast<uint8_t>(value >> 8);
  p[3] = static_cast<uint8_t>(value);
}

// Converts `count` big-endian elements of IDX type `code` (wider than a byte, or signed) into the
// tensor's storage. Unsigned bytes need no conversion and are read straight into the tensor.
void decode(uint8_t code, const uint8_t* in, int64_t count, const Tensor& out) {
  switch (code) {
    case 0x09: {
      int32_t* o = out.data<int32_t>();
      // The sign extension is the point: IDX 0x09 holds signed bytes.
      for (int64_t i = 0; i < count; ++i) o[i] = static_cast<int8_t>(in[i]);  // NOLINT(bugprone-signed-char-misuse)
      break;
    }
    case 0x0B: {
      int32_t* o = out.data<int32_t>();
      for (int64_t i = 0; i < count; ++i)
        o[i] = static_cast<int16_t>(static_cast<uint16_t>(in[2 * i] << 8 | in[2 * i + 1]));
      break;
    }
    case 0x0C: {
      int32_t* o = out.data<int32_t>();
      for (int64_t i = 0; i < count; ++i) o[i] = static_cast<int32_t>(load_u32_be(in + 4 * i));
      break;
    }
    case 0x0D: {
      float* o = out.data<float>();
      for (int64_t i = 0; i < count; ++i) {
        const uint32_t bits = load_u32_be(in + 4 * i);
        std::memcpy(&o[i], &bits, 4);
      }
      break;
    }
    case 0x0E: {
      float* o = out.data<float>();
      for (int64_t i = 0; i < count; ++i) {
        const uint64_t bits = load_u64_be(in + 8 * i);
        double value;
        std::memcpy(&value, &bits, 8);
        o[i] = static_cast<float>(value);
      }
      break;
    }
    default:
      WISP_FAIL("read_idx: internal error: no decoder for IDX dtype code ", hex_byte(code));
  }
}

// Reads up to `need` bytes into a buffer that doubles as data arrives (from 1 MiB), so that memory
// follows the data actually present; fewer than `need` only at the end of the data.
std::vector<uint8_t> read_growing(ByteSource& source, uint64_t need, const std::string& name, const char* op) {
  constexpr size_t kFirstChunk = size_t{1} << 20;
  std::vector<uint8_t> data;
  size_t have = 0;
  while (have < need) {
    if (have == data.size()) {
      const size_t grown = static_cast<size_t>(std::min<uint64_t>(need, std::max(kFirstChunk, 2 * data.size())));
      try {
        data.resize(grown);
      } catch (const std::bad_alloc&) {
        WISP_FAIL(op, ": out of memory reading ", quote_path(name), ": could not grow its buffer to ", grown, " bytes");
      }
    }
    const size_t wanted = data.size() - have;
    const size_t got = source.read(data.data() + have, wanted);
    have += got;
    if (got < wanted) break;
  }
  data.resize(have);
  return data;
}

Tensor read_from(ByteSource& source, const std::string& name, const char* op, bool gzipped) {
  const std::string where = quote_path(name) + (gzipped ? " (after gzip decompression)" : "");
  uint8_t magic[4];
  const size_t magic_bytes = source.read(magic, 4);
  WISP_CHECK(magic_bytes > 0, op, ": ", where, " is empty: expected an IDX header of at least 4 bytes");
  WISP_CHECK(magic_bytes == 4, op, ": ", where,
             " is too short: expected an IDX header of at least 4 bytes but the file has ", magic_bytes);
  WISP_CHECK(magic[0] == 0 && magic[1] == 0, op, ": ", where,
             " has a wrong magic number: expected two zero bytes, a dtype code and a rank but got ", hex_byte(magic[0]),
             " ", hex_byte(magic[1]), " ", hex_byte(magic[2]), " ", hex_byte(magic[3]), " (is it an IDX file?)");
  const uint8_t code = magic[2];
  IdxType type{};
  WISP_CHECK(idx_type(code, type), op, ": ", where, " has an unknown dtype code ", hex_byte(code),
             ": expected 0x08 (unsigned byte), 0x09 (signed byte), 0x0B (int16), 0x0C (int32), 0x0D (float32) or 0x0E "
             "(float64)");
  const int rank = magic[3];
  WISP_CHECK(rank >= 1 && rank <= kMaxRank, op, ": ", where, " has rank ", rank, ": expected a rank from 1 to ",
             kMaxRank);
  const size_t header_bytes = 4 + 4 * static_cast<size_t>(rank);
  uint8_t sizes[4 * kMaxRank];
  const size_t size_bytes = source.read(sizes, 4 * static_cast<size_t>(rank));
  WISP_CHECK(4 + size_bytes == header_bytes, op, ": ", where, " has a truncated header: rank ", rank, " needs ",
             header_bytes, " header bytes but the file has ", 4 + size_bytes);

  Shape shape;
  // The byte count saturates instead of overflowing, so that absurd dimensions still produce the
  // "truncated" message below rather than a wrapped-around size.
  uint64_t count = 1;
  bool huge = false, any_zero = false;
  for (int d = 0; d < rank; ++d) {
    const uint32_t size = load_u32_be(sizes + 4 * d);
    shape.push_back(size);
    if (size != 0 && count > std::numeric_limits<uint64_t>::max() / type.bytes / size) huge = true;
    any_zero = any_zero || size == 0;
    count *= size;
  }
  // A zero dimension makes the data empty, however large the others (a product that merely wrapped
  // around to 0 stays huge).
  if (any_zero) {
    huge = false;
    count = 0;
  }
  const uint64_t need = count * type.bytes;
  auto truncated = [&](uint64_t have) {
    return detail::concat(op, ": ", where, " is truncated: dimensions ", shape, " of ", type.name, " (", type.bytes,
                          " byte", type.bytes == 1 ? "" : "s", " each): expected ",
                          huge ? std::string("more than 2^64") : std::to_string(need),
                          " bytes of data after the header but the file has ", have);
  };
  auto trailing = [&](uint64_t have) {
    return detail::concat(op, ": ", where, " has ", have - need, " trailing bytes: dimensions ", shape, " of ",
                          type.name, ": expected ", need, " bytes of data after the header but the file has ", have);
  };
  // Length mismatches that are certain before reading (raw files know their size) fail before
  // anything is allocated.
  if (huge || need > source.remaining_bound()) throw Error(truncated(source.skip_to_end()));
  if (source.remaining_is_exact() && source.remaining_bound() != need) {
    const uint64_t have = source.remaining_bound();
    throw Error(have < need ? truncated(have) : trailing(have));
  }

  if (!source.remaining_is_exact()) {
    // Gzip: deflate's ratio bounds the header's claim only loosely (a 1 MB file may claim 1 GB), so
    // the buffer grows as data arrives, and only data that is there gets allocated.
    std::vector<uint8_t> data = read_growing(source, need, name, op);
    if (data.size() < need) throw Error(truncated(data.size()));
    if (const uint64_t extra = source.skip_to_end()) throw Error(trailing(need + extra));
    Tensor tensor = empty(shape, type.dtype);
    if (code == 0x08) {
      if (need > 0) std::memcpy(tensor.data<uint8_t>(), data.data(), static_cast<size_t>(need));
    } else {
      decode(code, data.data(), static_cast<int64_t>(count), tensor);
    }
    return tensor;
  }

  // Raw: the size is known and matches, so the claimed bytes are there. Unsigned bytes go straight
  // into the tensor; wider types are decoded from a staging buffer.
  Tensor tensor = empty(shape, type.dtype);
  std::vector<uint8_t> staging;
  uint8_t* destination = nullptr;
  if (code != 0x08) {
    staging.resize(static_cast<size_t>(need));
    destination = staging.data();
  } else if (need > 0) {
    destination = tensor.data<uint8_t>();
  }
  const size_t got = need == 0 ? 0 : source.read(destination, static_cast<size_t>(need));
  if (got < need) throw Error(truncated(got));
  if (const uint64_t extra = source.skip_to_end()) throw Error(trailing(need + extra));
  if (code != 0x08) decode(code, staging.data(), static_cast<int64_t>(count), tensor);
  return tensor;
}

// IDX data stored in `input` (`size` bytes, gzip-compressed when `gzipped`).
Tensor read_stored(Input& input, uint64_t size, bool gzipped, const std::string& name, const char* op) {
  if (!gzipped) {
    RawSource source(input, size);
    return read_from(source, name, op, false);
  }
  GzipSource source(input, name, op, size);
  return read_from(source, name, op, true);
}

struct GzipCloser {
  void operator()(gzFile file) const { gzclose(file); }
};

uint8_t idx_code(DType dtype) {
  switch (dtype) {
    case DType::UInt8:
      return 0x08;
    case DType::Int32:
      return 0x0C;
    case DType::Float32:
      return 0x0D;
    default:
      return 0;
  }
}

void write_all(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (!gzip) {
    File file(std::fopen(path.c_str(), "wb"));
    WISP_CHECK(file != nullptr, "write_idx: cannot open ", quote_path(path), " for writing: ", std::strerror(errno));
    const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file.get());
    WISP_CHECK(written == bytes.size(), "write_idx: write error in ", quote_path(path), ": wrote ", written, " of ",
               bytes.size(), " bytes: ", std::strerror(errno));
    WISP_CHECK(std::fclose(file.release()) == 0, "write_idx: cannot close ", quote_path(path), ": ",
               std::strerror(errno));
    return;
  }
  std::unique_ptr<gzFile_s, GzipCloser> file(gzopen(path.c_str(), "wb6"));
  WISP_CHECK(file != nullptr, "write_idx: cannot open ", quote_path(path), " for writing: ", std::strerror(errno));
  for (size_t done = 0; done < bytes.size();) {
    const unsigned chunk = static_cast<unsigned>(std::min(bytes.size() - done, kGzipChunk));
    const int written = gzwrite(file.get(), bytes.data() + done, chunk);
    int status = Z_OK;
    const char* message = gzerror(file.get(), &status);
    WISP_CHECK(written > 0, "write_idx: gzip write error in ", quote_path(path), ": ",
               status == Z_ERRNO ? std::strerror(errno) : message);
    done += static_cast<size_t>(written);
  }
  const int status = gzclose(file.release());
  WISP_CHECK(status == Z_OK, "write_idx: cannot finish the gzip stream of ", quote_path(path), ": zlib error code ",
             status, status == Z_ERRNO ? std::string(" (") + std::strerror(errno) + ")" : "");
}

}  // namespace

Tensor read_idx(const std::string& path) {
  uint64_t size = 0;
  File file = open_for_reading(path, size);
  uint8_t magic[2] = {0, 0};
  const bool gzipped = std::fread(magic, 1, 2, file.get()) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  WISP_CHECK(std::fseek(file.get(), 0, SEEK_SET) == 0, "read_idx: cannot seek in ", quote_path(path), ": ",
             std::strerror(errno));
  FileInput input(std::move(file), path);
  return read_stored(input, size, gzipped, path, "read_idx");
}

Tensor parse_idx(const uint8_t* bytes, size_t size, const std::string& name) {
  WISP_CHECK(bytes != nullptr || size == 0, "parse_idx: ", quote_path(name), ": expected ", size,
             " bytes but got a null pointer");
  const bool gzipped = size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
  MemoryInput input(bytes, size);
  return read_stored(input, size, gzipped, name, "parse_idx");
}

void write_idx(const std::string& path, const Tensor& tensor, bool gzip) {
  WISP_CHECK(tensor.defined(), "write_idx: ", quote_path(path), ": expected a tensor but got an undefined one");
  const uint8_t code = idx_code(tensor.dtype());
  WISP_CHECK(code != 0, "write_idx: ", quote_path(path), ": expected a uint8, int32 or float32 tensor but got ",
             tensor.dtype());
  WISP_CHECK(tensor.dim() >= 1 && tensor.dim() <= kMaxRank, "write_idx: ", quote_path(path),
             ": expected a tensor of rank 1 to ", kMaxRank, " but got rank ", tensor.dim(), " (shape ", tensor.shape(),
             ")");
  for (int64_t size : tensor.shape())
    WISP_CHECK(size <= int64_t{UINT32_MAX}, "write_idx: ", quote_path(path), ": dimension ", size, " of shape ",
               tensor.shape(), " does not fit IDX's 32-bit sizes");
  const Tensor cpu = tensor.is_cpu() ? tensor : copy_to_device(tensor, Device::cpu());

  const size_t element_bytes = element_size(cpu.dtype());
  const size_t header_bytes = 4 + 4 * static_cast<size_t>(cpu.dim());
  std::vector<uint8_t> bytes(header_bytes + static_cast<size_t>(cpu.numel()) * element_bytes);
  bytes[2] = code;
  bytes[3] = static_cast<uint8_t>(cpu.dim());
  for (int64_t d = 0; d < cpu.dim(); ++d) store_u32_be(static_cast<uint32_t>(cpu.size(d)), &bytes[4 + 4 * d]);
  uint8_t* out = bytes.data() + header_bytes;
  if (code == 0x08) {
    if (cpu.numel() > 0) std::memcpy(out, cpu.data<uint8_t>(), static_cast<size_t>(cpu.numel()));
  } else {
    // int32 and float32 alike: 4-byte words, stored big-endian.
    const auto* words = static_cast<const uint8_t*>(cpu.raw_data());
    for (int64_t i = 0; i < cpu.numel(); ++i) {
      uint32_t word;
      std::memcpy(&word, words + 4 * i, 4);
      store_u32_be(word, out + 4 * i);
    }
  }
  write_all(path, bytes, gzip);
}

}  // namespace wisp::data
