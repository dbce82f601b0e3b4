// read_idx / write_idx: round trips (raw and gzip), every element type, and every malformed file.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <string>
#include <vector>

#include "test_helpers.h"

using namespace wisp;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path =
        fs::temp_directory_path() / ("wisp_test_idx_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_gzip_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  if (!bytes.empty()) REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) > 0);
  REQUIRE(gzclose(file) == Z_OK);
}

// An IDX header: two zero bytes, the dtype code, the rank, then the big-endian sizes.
std::vector<uint8_t> header(uint8_t code, const std::vector<uint32_t>& dims) {
  std::vector<uint8_t> bytes{0, 0, code, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(d >> shift));
  return bytes;
}

std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// One gzip member holding `bytes`, as gzip(1) writes it.
std::vector<uint8_t> gzipped(const std::vector<uint8_t>& bytes) {
  z_stream stream{};
  REQUIRE(deflateInit2(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<uint8_t> out(deflateBound(&stream, static_cast<uLong>(bytes.size())));
  stream.next_in = const_cast<Bytef*>(bytes.data());
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// The process's peak resident memory so far, in KiB.
long peak_resident_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

std::vector<uint32_t> float_bits(const Tensor& t) {
  std::vector<uint32_t> bits(static_cast<size_t>(t.numel()));
  std::memcpy(bits.data(), t.data<float>(), bits.size() * 4);
  return bits;
}

}  // namespace

TEST_CASE("write_idx and read_idx round-trip uint8, int32 and float32, raw and gzip", "[data][idx]") {
  TempDir dir;
  const bool gzip = GENERATE(false, true);
  INFO("gzip " << gzip);

  std::vector<uint8_t> pixels(3 * 4 * 5);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 37 % 256);
  const Tensor images = from_vector(pixels, {3, 4, 5});
  data::write_idx(dir.file("u8"), images, gzip);
  const Tensor images_read = data::read_idx(dir.file("u8"));
  CHECK(images_read.dtype() == DType::UInt8);
  CHECK(images_read.shape() == Shape{3, 4, 5});
  CHECK(images_read.to_vector<uint8_t>() == pixels);

  const std::vector<int32_t> ints{0, -1, 2147483647, -2147483647 - 1, 256, -300};
  data::write_idx(dir.file("i32"), from_vector(ints, {2, 3}), gzip);
  const Tensor ints_read = data::read_idx(dir.file("i32"));
  CHECK(ints_read.dtype() == DType::Int32);
  CHECK(ints_read.shape() == Shape{2, 3});
  CHECK(ints_read.to_vector<int32_t>() == ints);

  const float inf = std::numeric_limits<float>::infinity();
  const Tensor floats = from_vector(std::vector<float>{1.5f, -0.0f, inf, -inf, 1e-40f, 3.14159265f, -2e30f}, {7});
  data::write_idx(dir.file("f32"), floats, gzip);
  const Tensor floats_read = data::read_idx(dir.file("f32"));
  CHECK(floats_read.dtype() == DType::Float32);
  CHECK(floats_read.shape() == Shape{7});
  CHECK(float_bits(floats_read) == float_bits(floats));  // bit-exact, signed zero and denormal included

  // An empty dimension is a valid, empty file.
  data::write_idx(dir.file("empty"), empty({0, 28, 28}, DType::UInt8), gzip);
  CHECK(data::read_idx(dir.file("empty")).shape() == Shape{0, 28, 28});
}

TEST_CASE("read_idx writes big-endian headers and detects gzip by content, not by name", "[data][idx]") {
  TempDir dir;
  const Tensor labels = from_vector(std::vector<uint8_t>{5, 0, 4, 1, 9});
  data::write_idx(dir.file("raw.gz"), labels, false);
  data::write_idx(dir.file("compressed-idx1-ubyte"), labels, true);
  CHECK(read_bytes(dir.file("raw.gz")) == concat(header(0x08, {5}), {5, 0, 4, 1, 9}));  // MNIST's magic 2049
  const std::vector<uint8_t> compressed = read_bytes(dir.file("compressed-idx1-ubyte"));
  REQUIRE(compressed.size() >= 2);
  CHECK((compressed[0] == 0x1f && compressed[1] == 0x8b));
  CHECK(data::read_idx(dir.file("raw.gz")).to_vector<uint8_t>() == labels.to_vector<uint8_t>());
  CHECK(data::read_idx(dir.file("compressed-idx1-ubyte")).to_vector<uint8_t>() == labels.to_vector<uint8_t>());
}

TEST_CASE("read_idx decodes every IDX element type, big-endian", "[data][idx]") {
  TempDir dir;
  const bool gzip = GENERATE(false, true);
  INFO("gzip " << gzip);
  auto write = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    if (gzip) write_gzip_bytes(dir.file(name), bytes);
    else write_bytes(dir.file(name), bytes);
    return dir.file(name);
  };

  const Tensor u8 = data::read_idx(write("u8", concat(header(0x08, {2, 2}), {0, 1, 128, 255})));
  CHECK(u8.dtype() == DType::UInt8);
  CHECK(u8.to_vector<uint8_t>() == std::vector<uint8_t>{0, 1, 128, 255});

  const Tensor i8 = data::read_idx(write("i8", concat(header(0x09, {4}), {0, 1, 0x80, 0xFF})));
  CHECK(i8.dtype() == DType::Int32);
  CHECK(i8.to_vector<int32_t>() == std::vector<int32_t>{0, 1, -128, -1});

  const Tensor i16 = data::read_idx(write("i16", concat(header(0x0B, {3}), {0x01, 0x02, 0xFF, 0xFE, 0x80, 0x00})));
  CHECK(i16.dtype() == DType::Int32);
  CHECK(i16.to_vector<int32_t>() == std::vector<int32_t>{258, -2, -32768});

  const Tensor i32 =
      data::read_idx(write("i32", concat(header(0x0C, {2}), {0x00, 0x01, 0x00, 0x02, 0xFF, 0xFF, 0xFF, 0xFD})));
  CHECK(i32.dtype() == DType::Int32);
  CHECK(i32.to_vector<int32_t>() == std::vector<int32_t>{65538, -3});

  // 1.5f = 0x3FC00000, -2.0f = 0xC0000000
  const Tensor f32 = data::read_idx(write("f32", concat(header(0x0D, {2, 1}), {0x3F, 0xC0, 0, 0, 0xC0, 0, 0, 0})));
  CHECK(f32.dtype() == DType::Float32);
  CHECK(f32.shape() == Shape{2, 1});
  CHECK(f32.to_vector<float>() == std::vector<float>{1.5f, -2.0f});

  // 0.1 = 0x3FB999999999999A (converted to the nearest float), -3.0 = 0xC008000000000000
  const Tensor f64 = data::read_idx(write("f64", concat(header(0x0E, {2}), {0x3F, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99,
                                                                            0x9A, 0xC0, 0x08, 0, 0, 0, 0, 0, 0})));
  CHECK(f64.dtype() == DType::Float32);
  CHECK(f64.to_vector<float>() == std::vector<float>{0.1f, -3.0f});
}

TEST_CASE("read_idx rejects malformed files with the file name and the mismatch", "[data][idx]") {
  TempDir dir;
  const std::string path = dir.file("bad-idx3-ubyte");

  SECTION("missing file") {
    WISP_REQUIRE_ERROR(data::read_idx(dir.file("nothing-here")), "cannot open", "nothing-here", "No such file");
  }
  SECTION("a directory") { WISP_REQUIRE_ERROR(data::read_idx(dir.path.string()), dir.path.string(), "directory"); }
  SECTION("unreadable file") {
    write_bytes(path, concat(header(0x08, {1}), {7}));
    fs::permissions(path, fs::perms::none);
    if (std::ifstream(path).good()) {
      SUCCEED("running as root: a mode-000 file is still readable, nothing to check");
    } else {
      WISP_REQUIRE_ERROR(data::read_idx(path), "cannot open", path, "Permission denied");
    }
    fs::permissions(path, fs::perms::owner_all);
  }
  SECTION("empty file") {
    write_bytes(path, {});
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "is empty");
  }
  SECTION("shorter than the magic number") {
    write_bytes(path, {0, 0, 8});
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "too short", "at least 4 bytes", "has 3");
  }
  SECTION("wrong magic number") {
    write_bytes(path, concat({0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1}, {7}));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "wrong magic number", "two zero bytes", "0x12 0x34 0x08 0x01");
  }
  SECTION("unknown dtype code") {
    write_bytes(path, concat(header(0x07, {1}), {7}));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "unknown dtype code 0x07");
    write_bytes(path, concat(header(0x0A, {1}), {7}));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "unknown dtype code 0x0A");
  }
  SECTION("rank 0") {
    write_bytes(path, {0, 0, 0x08, 0, 7});
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "rank 0", "expected a rank from 1 to 16");
  }
  SECTION("absurd rank") {
    std::vector<uint8_t> bytes{0, 0, 0x08, 200};
    bytes.resize(4 + 4 * 200, 0);
    write_bytes(path, bytes);
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "rank 200", "expected a rank from 1 to 16");
  }
  SECTION("truncated header") {
    write_bytes(path, {0, 0, 0x08, 3, 0, 0, 0, 10, 0, 0});
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "truncated header", "rank 3 needs 16 header bytes", "has 10");
  }
  SECTION("truncated data") {
    std::vector<uint8_t> bytes = header(0x08, {60000, 28, 28});
    bytes.resize(bytes.size() + 100, 1);
    write_bytes(path, bytes);
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "truncated", "[60000, 28, 28]",
                       "expected 47040000 bytes of data after the header but the file has 100");
  }
  SECTION("truncated multi-byte data") {
    write_bytes(path, concat(header(0x0C, {3}), {0, 0, 0, 1, 0, 0, 0, 2, 0, 0}));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "int32",
                       "expected 12 bytes of data after the header but the file has 10");
  }
  SECTION("dimensions too large for any file") {
    write_bytes(path, concat(header(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}), {1, 2, 3}));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "truncated", "more than 2^64", "the file has 3");
  }
  SECTION("dimensions whose product wraps around to exactly 2^64") {
    write_bytes(path, concat(header(0x08, {65536, 65536, 65536, 65536}), {1, 2}));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "truncated", "more than 2^64", "the file has 2");
  }
  SECTION("a zero dimension beside huge ones holds no data") {
    write_bytes(path, concat(header(0x0E, {0xFFFFFFFF, 0, 0xFFFFFFFF}), {}));
    const Tensor empty_tensor = data::read_idx(path);
    CHECK(empty_tensor.shape() == Shape{0xFFFFFFFF, 0, 0xFFFFFFFF});
    write_bytes(path, concat(header(0x0E, {0xFFFFFFFF, 0, 0xFFFFFFFF}), {9}));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "1 trailing bytes");
  }
  SECTION("trailing bytes") {
    write_bytes(path, concat(header(0x08, {2, 2}), {1, 2, 3, 4, 5, 6, 7}));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "3 trailing bytes",
                       "expected 4 bytes of data after the header but the file has 7");
  }
  SECTION("truncated data inside a valid gzip stream") {
    write_gzip_bytes(path, concat(header(0x08, {10}), {1, 2, 3}));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "after gzip decompression", "truncated",
                       "expected 10 bytes of data after the header but the file has 3");
  }
  SECTION("a gzip file far too small for its dimensions") {
    std::vector<uint8_t> bytes = header(0x08, {60000, 28, 28});
    bytes.resize(bytes.size() + 100, 1);
    write_gzip_bytes(path, bytes);
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "after gzip decompression",
                       "expected 47040000 bytes of data after the header but the file has 100");
  }
  SECTION("trailing bytes inside a gzip stream") {
    write_gzip_bytes(path, concat(header(0x0D, {1}), {0x3F, 0xC0, 0, 0, 9}));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "after gzip decompression", "1 trailing bytes",
                       "expected 4 bytes of data after the header but the file has 5");
  }
  SECTION("empty gzip stream") {
    write_gzip_bytes(path, {});
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "is empty");
  }
}

TEST_CASE("read_idx rejects corrupt gzip streams", "[data][idx]") {
  TempDir dir;
  const std::string path = dir.file("images-idx3-ubyte.gz");
  // Pixels with little redundancy, so that the deflate stream is long and every byte matters.
  std::vector<uint8_t> pixels(4000);
  uint32_t state = 12345;
  for (uint8_t& p : pixels) {
    state = state * 1664525u + 1013904223u;
    p = static_cast<uint8_t>(state >> 24);
  }
  data::write_idx(path, from_vector(pixels, {10, 20, 20}), true);
  REQUIRE(data::read_idx(path).to_vector<uint8_t>() == pixels);
  const std::vector<uint8_t> good = read_bytes(path);

  SECTION("flipped bytes in the middle") {
    std::vector<uint8_t> bad = good;
    for (size_t i = bad.size() / 2; i < bad.size() / 2 + 8; ++i) bad[i] ^= 0x5A;
    write_bytes(path, bad);
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "corrupt gzip stream");
  }
  SECTION("wrong checksum") {
    std::vector<uint8_t> bad = good;
    bad[bad.size() - 8] ^= 0x01;  // the CRC-32 of the trailer
    write_bytes(path, bad);
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "corrupt gzip stream");
  }
  SECTION("cut in half") {
    write_bytes(path, std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2)));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "corrupt gzip stream", "unexpected end of file");
  }
  SECTION("gzip magic followed by garbage") {
    write_bytes(path, {0x1f, 0x8b, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42});
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "corrupt gzip stream");
  }
}

TEST_CASE("read_idx refuses what is not a regular file instead of blocking on it", "[data][idx]") {
  TempDir dir;
  SECTION("a FIFO") {
    const std::string fifo = dir.file("images-idx3-ubyte");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto reading = std::async(std::launch::async, [&] { data::read_idx(fifo); });
    if (reading.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      // Opening the write end lets the blocked open return; closing it gives the reader end of file.
      const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      if (writer >= 0) ::close(writer);
      reading.wait();
      FAIL("read_idx was still blocked on a FIFO after 10 s");
    }
    WISP_REQUIRE_ERROR(reading.get(), fifo, "not a regular file", "FIFO");
  }
  SECTION("a character device") {
    WISP_REQUIRE_ERROR(data::read_idx("/dev/null"), "'/dev/null'", "not a regular file", "character device");
  }
}

TEST_CASE("read_idx reads concatenated gzip members and refuses bytes after the last one", "[data][idx]") {
  TempDir dir;
  const std::string path = dir.file("labels-idx1-ubyte.gz");
  const std::vector<uint8_t> idx = concat(header(0x08, {6}), {5, 0, 4, 1, 9, 2});
  const std::vector<uint8_t> member = gzipped(idx);
  write_bytes(path, member);
  REQUIRE(data::read_idx(path).to_vector<uint8_t>() == std::vector<uint8_t>{5, 0, 4, 1, 9, 2});

  SECTION("two members are one stream, as gzip -d reads them") {
    write_bytes(path, concat(gzipped({idx.begin(), idx.begin() + 7}), gzipped({idx.begin() + 7, idx.end()})));
    CHECK(data::read_idx(path).to_vector<uint8_t>() == std::vector<uint8_t>{5, 0, 4, 1, 9, 2});
  }
  SECTION("junk after the member") {
    write_bytes(path, concat(member, {'j', 'u', 'n', 'k'}));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "4 bytes after the end of its gzip stream");
  }
  SECTION("one byte after the member") {
    write_bytes(path, concat(member, {0x1f}));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "1 bytes after the end of its gzip stream");
  }
  SECTION("zero padding after the member") {
    write_bytes(path, concat(member, std::vector<uint8_t>(512, 0)));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "512 bytes after the end of its gzip stream");
  }
  SECTION("a truncated second member") {
    const std::vector<uint8_t> second = gzipped({1, 2, 3});
    write_bytes(path, concat(member, {second.begin(), second.begin() + 12}));
    WISP_REQUIRE_ERROR(data::read_idx(path), path, "corrupt gzip stream", "unexpected end of file");
  }
}

TEST_CASE("read_idx allocates as gzip data arrives, not what the header claims", "[data][idx]") {
  // 1 MiB of incompressible data under a header that claims 135 million float64 values (1.08 GB):
  // the claim is within deflate's largest ratio for a file of that size, so only the data shows it
  // is false.
  TempDir dir;
  const std::string path = dir.file("claims-idx1-double.gz");
  std::vector<uint8_t> noise(size_t{1} << 20);
  uint32_t state = 1;
  for (uint8_t& byte : noise) {
    state = state * 1664525u + 1013904223u;
    byte = static_cast<uint8_t>(state >> 24);
  }
  write_gzip_bytes(path, concat(header(0x0E, {135000000}), noise));
  const long before = peak_resident_kib();
  WISP_REQUIRE_ERROR(data::read_idx(path), path, "truncated", "expected 1080000000 bytes", "the file has 1048576");
  const long grown = peak_resident_kib() - before;
  INFO("peak resident memory grew by " << grown << " KiB");
  CHECK(grown < 64 * 1024);
}

TEST_CASE("parse_idx reads IDX bytes from memory, raw or gzip, naming them in errors", "[data][idx]") {
  const std::vector<uint8_t> idx = concat(header(0x0C, {2}), {0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFD});
  CHECK(data::parse_idx(idx.data(), idx.size(), "buffer").to_vector<int32_t>() == std::vector<int32_t>{1, -3});
  const std::vector<uint8_t> compressed = gzipped(idx);
  const Tensor unpacked = data::parse_idx(compressed.data(), compressed.size(), "buffer");
  CHECK(unpacked.shape() == Shape{2});
  CHECK(unpacked.to_vector<int32_t>() == std::vector<int32_t>{1, -3});
  WISP_REQUIRE_ERROR(data::parse_idx(idx.data(), idx.size() - 1, "labels in memory"), "'labels in memory'", "truncated",
                     "expected 8 bytes of data after the header but the file has 7");
  WISP_REQUIRE_ERROR(data::parse_idx(nullptr, 0, "nothing"), "'nothing'", "is empty");
  WISP_REQUIRE_ERROR(data::parse_idx(compressed.data(), compressed.size() - 1, "cut"), "'cut'", "corrupt gzip stream",
                     "unexpected end of file");
  const std::vector<uint8_t> padded = concat(compressed, {0});
  WISP_REQUIRE_ERROR(data::parse_idx(padded.data(), padded.size(), "padded"), "'padded'",
                     "1 bytes after the end of its gzip stream");
}

TEST_CASE("write_idx rejects tensors IDX cannot hold", "[data][idx]") {
  TempDir dir;
  const std::string path = dir.file("out");
  WISP_REQUIRE_ERROR(data::write_idx(path, zeros({2}, DType::Int64)), path, "expected a uint8, int32 or float32 tensor",
                     "int64");
  WISP_REQUIRE_ERROR(data::write_idx(path, full({}, 1.0)), path, "rank 1 to 16", "rank 0");
  WISP_REQUIRE_ERROR(data::write_idx(path, Tensor()), path, "undefined");
  WISP_REQUIRE_ERROR(data::write_idx(dir.file("no/such/dir/out"), zeros({2})), "cannot open", "no/such/dir/out");
  WISP_REQUIRE_ERROR(data::write_idx(dir.file("no/such/dir/out.gz"), zeros({2}), true), "cannot open");
}
