// safetensors container: the reference writer's bytes, round trips, and every malformed file refused.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "files.h"
#include "test_helpers.h"
#include "wisp/serialization/atomic_file.h"
#include "wisp/serialization/safetensors.h"

using namespace wisp;
using wisp::testing::file_bytes;
using wisp::testing::ScratchFolder;
using namespace wisp::serialization;

namespace {

// A file image: the 8-byte little-endian length of `header`, `header`, then `data`.
std::string file_image(const std::string& header, const std::string& data = "") {
  std::string bytes(8, '\0');
  for (int k = 0; k < 8; ++k) bytes[k] = static_cast<char>((static_cast<uint64_t>(header.size()) >> (8 * k)) & 0xFF);
  return bytes + header + data;
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

}  // namespace

TEST_CASE("safetensors writer: the reference writer's bytes for an empty file and its alignment") {
  // The reference implementation's test_empty: 8-byte length 8, "{}" and 6 spaces of padding.
  const std::string empty_file = SafetensorsWriter().to_bytes();
  REQUIRE(empty_file == std::string("\x08\0\0\0\0\0\0\0{}      ", 16));

  // test_serialization_forced_alignement: one F32 [1, 1, 2, 3] tensor gives a 72-byte header.
  SafetensorsWriter writer;
  writer.add("attn0", zeros({1, 1, 2, 3}));
  REQUIRE(writer.header_json() == "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ");
  REQUIRE(writer.header_json().size() == 72);
  REQUIRE(writer.to_bytes().size() == 8 + 72 + 24);
}

TEST_CASE("safetensors writer: tensors by decreasing element size then name, metadata first, identical bytes") {
  const Tensor labels = from_vector<int64_t>({1, 2, 3});
  const Tensor image = from_vector<uint8_t>({7, 8});
  const Tensor weights = from_vector<float>({0.5f, -1.0f, 2.0f, 4.0f}, {2, 2});
  const Tensor scalar = from_vector<float>({3.0f}, Shape{});
  SafetensorsWriter first;
  first.add("weights", weights);
  first.add("image", image);
  first.add("a_scalar", scalar);
  first.add("labels", labels);
  first.add_metadata("format", "pt");
  SafetensorsWriter second;  // the same tensors, added in another order
  second.add_metadata("format", "pt");
  second.add("labels", labels);
  second.add("a_scalar", scalar);
  second.add("image", image);
  second.add("weights", weights);
  REQUIRE(first.to_bytes() == second.to_bytes());

  const SafetensorsHeader header = parse_file_bytes(first.to_bytes(), "memory");
  REQUIRE(header.metadata == std::map<std::string, std::string>{{"format", "pt"}});
  REQUIRE(header.entries.size() == 4);
  CHECK(header.entries[0].name == "labels");    // 8-byte elements
  CHECK(header.entries[1].name == "a_scalar");  // 4-byte elements, by name
  CHECK(header.entries[2].name == "weights");
  CHECK(header.entries[3].name == "image");  // 1-byte elements
  CHECK(header.entries[1].shape.empty());
  CHECK(header.header_length % 8 == 0);
  CHECK(first.header_json().rfind("{\"__metadata__\":{\"format\":\"pt\"}", 0) == 0);
}

TEST_CASE("safetensors writer: a produced tensor is made at each write, released, and checked") {
  const Tensor indices = from_vector<int64_t>({0, 0, 1, 2, 0, 1}, {2, 3});
  const Tensor weights = from_vector<float>({0.5f, -1.0f, 2.0f});
  int produced = 0;
  std::weak_ptr<TensorImpl> last_produced;
  SafetensorsWriter lazy;
  lazy.add("weights", weights);
  lazy.add("indices", DType::Int64, Shape{2, 3}, [&] {
    ++produced;
    const Tensor copy = indices.clone();
    last_produced = copy.impl();
    return copy;
  });
  CHECK(produced == 0);
  SafetensorsWriter eager;
  eager.add("indices", indices);
  eager.add("weights", weights);
  CHECK(lazy.header_json() == eager.header_json());  // from the declared dtype and shape
  CHECK(produced == 0);
  CHECK(lazy.to_bytes() == eager.to_bytes());
  CHECK(produced == 1);
  CHECK(last_produced.expired());  // not kept once written
  ScratchFolder folder("safetensors");
  const std::string path = folder.file("lazy.safetensors");
  lazy.write(path);
  CHECK(produced == 2);
  CHECK(SafetensorsReader(path).read("indices").to_vector<int64_t>() == indices.to_vector<int64_t>());

  // A tensor that is not what was declared fails the write; the file keeps its old contents.
  SafetensorsWriter wrong;
  wrong.add("indices", DType::Int64, Shape{2, 4}, [&] { return indices; });
  WISP_REQUIRE_ERROR(wrong.write(path), "tensor \"indices\" was added as int64 [2, 4] but is int64 [2, 3]");
  CHECK(SafetensorsReader(path).header().entries.size() == 2);
  SafetensorsWriter undefined;
  undefined.add("x", DType::Float32, Shape{1}, [] { return Tensor(); });
  WISP_REQUIRE_ERROR(undefined.to_bytes(), "tensor \"x\" is undefined when written");
}

TEST_CASE("safetensors: round trip through a file, every dtype, a scalar and an empty tensor") {
  ScratchFolder folder("safetensors");
  const std::string path = folder.file("model.safetensors");
  SafetensorsWriter writer;
  writer.add("f", from_vector<float>({1.5f, -2.25f, 3.0f, 1e-30f, 0.0f, 7.0f}, {2, 3}));
  writer.add("i64", from_vector<int64_t>({-5, int64_t{1} << 40}));
  writer.add("i32", from_vector<int32_t>({-7, 9, 11}));
  writer.add("u8", from_vector<uint8_t>({0, 255}));
  writer.add("scalar", from_vector<float>({42.0f}, Shape{}));
  writer.add("nothing", zeros({0, 4}));
  writer.add("name with \"quotes\", a \\ and \xc3\xa9", from_vector<float>({1.0f}));
  writer.add_metadata("wisp.format_version", "1");
  writer.write(path);

  SafetensorsReader reader(path);
  CHECK(reader.header().metadata.at("wisp.format_version") == "1");
  CHECK(reader.read("f").to_vector<float>() == std::vector<float>{1.5f, -2.25f, 3.0f, 1e-30f, 0.0f, 7.0f});
  CHECK(reader.read("f").shape() == Shape{2, 3});
  CHECK(reader.read("i64").to_vector<int64_t>() == std::vector<int64_t>{-5, int64_t{1} << 40});
  CHECK(reader.read("i32").to_vector<int32_t>() == std::vector<int32_t>{-7, 9, 11});
  CHECK(reader.read("u8").to_vector<uint8_t>() == std::vector<uint8_t>{0, 255});
  CHECK(reader.read("scalar").dim() == 0);
  CHECK(reader.read("scalar").item<float>() == 42.0f);
  CHECK(reader.read("nothing").shape() == Shape{0, 4});
  CHECK(reader.read("name with \"quotes\", a \\ and \xc3\xa9").item<float>() == 1.0f);
  WISP_REQUIRE_ERROR(reader.read("missing"), "model.safetensors", "no tensor named \"missing\"");

  // The file on disk is exactly to_bytes(), and no temporary file stays behind.
  std::ifstream in(path, std::ios::binary);
  const std::string on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(on_disk == writer.to_bytes());
  CHECK(std::distance(std::filesystem::directory_iterator(folder.path), std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("safetensors reader: JSON whitespace around tokens, any key order, escapes") {
  const std::string header = " \n{ \"b\" : {\"shape\":[ 1 ],\"data_offsets\":[4,8],\"dtype\":\"F32\"},\t" +
                             entry("\\u0061", "F32", "[1]", "[0,4]") + ",\"__metadata__\":{\"k\":\"v\\n\"} }\r\n";
  const SafetensorsHeader parsed = parse_file_bytes(file_image(header, std::string(8, '\0')), "memory");
  REQUIRE(parsed.entries.size() == 2);
  CHECK(parsed.entries[0].name == "a");  // data order
  CHECK(parsed.entries[1].name == "b");
  CHECK(parsed.metadata.at("k") == "v\n");
  // A file holding dtypes wisp does not read is still valid; reading those tensors is refused.
  CHECK_NOTHROW(
      parse_file_bytes(file_image("{" + entry("half", "BF16", "[2]", "[0,4]") + "}", std::string(4, 'x')), "memory"));
}

TEST_CASE("safetensors reader: every malformed file is refused with the file's name and the numbers") {
  const std::string four = std::string(4, '\0');
  const auto refused = [](const std::string& bytes, const std::string& part) {
    WISP_REQUIRE_ERROR(parse_file_bytes(bytes, "bad.safetensors"), "bad.safetensors", part);
  };
  refused(std::string("\x02\0\0\0", 4), "fewer than the 8");
  refused(file_image(std::string(300, ' ')).substr(0, 8) + std::string(200, ' '), "runs past the end");
  std::string huge_length(8, '\0');
  huge_length[4] = 1;  // 2^32
  refused(huge_length + "{}", "exceeds the limit of 100000000");
  refused(file_image("[]"), "expected the header to be a JSON object");
  refused(file_image("{\"a\":"), "header byte");
  refused(file_image("{\"\xff\":{}}"), "not valid UTF-8");
  refused(file_image("{\"\xc0\x80\":{}}"), "not valid UTF-8");  // overlong NUL
  refused(
      file_image("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("a", "F32", "[1]", "[4,8]") + "}", four + four),
      "duplicate tensor name \"a\"");
  refused(file_image("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", four),
          "duplicate key \"dtype\"");
  refused(file_image("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}"), "duplicate key in \"__metadata__\"");
  refused(file_image("{\"__metadata__\":{},\"__metadata__\":{}}"), "duplicate key \"__metadata__\"");
  refused(file_image("{\"__metadata__\":{\"k\":1}}"), "expected a string value");
  refused(file_image("{\"__metadata__\":{\"k\":{\"nested\":\"x\"}}}"), "expected a string value");
  refused(file_image("{" + entry("a", "F17", "[1]", "[0,4]") + "}", four), "unknown dtype \"F17\"");
  refused(file_image("{" + entry("a", "F32", "[-1]", "[0,4]") + "}", four), "negative number");
  refused(file_image("{" + entry("a", "F32", "[1.0]", "[0,4]") + "}", four), "fraction or exponent");
  refused(file_image("{" + entry("a", "F32", "[01]", "[0,4]") + "}", four), "leading zero");
  refused(file_image("{" + entry("a", "F32", "[99999999999999999999]", "[0,4]") + "}", four), "larger than 2^63");
  refused(file_image("{" + entry("a", "F32", "[4294967296,4294967296]", "[0,4]") + "}", four), "more elements");
  refused(file_image("{" + entry("a", "F64", "[3037000499,3037000499]", "[0,4]") + "}", four), "overflows");
  refused(file_image("{" + entry("a", "F4", "[3]", "[0,4]") + "}", four), "whole bytes");
  refused(file_image("{" + entry("a", "F32", "[1]", "[4,0]") + "}", four), "before they begin");
  refused(file_image("{" + entry("a", "F32", "[2]", "[0,4]") + "}", four), "needs 8 bytes");
  refused(file_image("{" + entry("a", "F32", "[1]", "[0,4,8]") + "}", four), "expected 2 data_offsets");
  refused(file_image("{" + entry("a", "F32", "[1]", "[4,8]") + "}", four + four), "(a gap)");
  refused(
      file_image("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[1]", "[4,8]") + "}", four + four),
      "overlapping");
  refused(file_image("{" + entry("a", "F32", "[1]", "[0,4]") + "}", four + "junk"), "trailing bytes");
  refused(file_image("{" + entry("a", "F32", "[2]", "[0,8]") + "}", four), "truncated");
  refused(file_image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", four), "lacks \"data_offsets\"");
  refused(file_image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", four),
          "unexpected key \"extra\"");
  refused(file_image("{" + entry("", "F32", "[1]", "[0,4]") + "}", four), "empty tensor name");
  refused(file_image("{" + entry("a\\u0000b", "F32", "[1]", "[0,4]") + "}", four), "NUL character");
  refused(file_image("{" + entry("\\ud800", "F32", "[1]", "[0,4]") + "}", four), "unpaired UTF-16 surrogate");
  refused(file_image("{}{}"), "unexpected bytes after the header object");
  refused(file_image("{\"a\x01b\":{}}"), "control character");
}

TEST_CASE("safetensors reader: every truncation of a valid file is refused") {
  SafetensorsWriter writer;
  writer.add("w", from_vector<float>({1, 2, 3}));
  writer.add("i", from_vector<int64_t>({4}));
  writer.add_metadata("format", "pt");
  const std::string bytes = writer.to_bytes();
  REQUIRE_NOTHROW(parse_file_bytes(bytes, "memory"));
  for (size_t length = 0; length < bytes.size(); ++length) {
    INFO("truncated to " << length << " of " << bytes.size() << " bytes");
    REQUIRE_THROWS_AS(parse_file_bytes(std::string_view(bytes).substr(0, length), "memory"), Error);
  }
}

TEST_CASE("safetensors reader: a FIFO or a folder is refused without blocking") {
  ScratchFolder folder("safetensors");
  const std::string fifo = folder.file("pipe.safetensors");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  WISP_REQUIRE_ERROR(SafetensorsReader{fifo}, "pipe.safetensors", "expected a regular file");
  WISP_REQUIRE_ERROR(SafetensorsReader{folder.path.string()}, "expected a regular file");
  WISP_REQUIRE_ERROR(SafetensorsReader{folder.file("absent.safetensors")}, "cannot open", "absent.safetensors");
  write_bytes(folder.file("short.safetensors"), "abc");
  WISP_REQUIRE_ERROR(SafetensorsReader{folder.file("short.safetensors")}, "short.safetensors", "fewer than the 8");
}

TEST_CASE("safetensors writer: refuses names and values the format cannot hold") {
  SafetensorsWriter writer;
  writer.add("w", zeros({1}));
  WISP_REQUIRE_ERROR(writer.add("w", zeros({1})), "added twice");
  WISP_REQUIRE_ERROR(writer.add("", zeros({1})), "non-empty");
  WISP_REQUIRE_ERROR(writer.add(std::string("a\0b", 3), zeros({1})), "NUL");
  WISP_REQUIRE_ERROR(writer.add("\xff", zeros({1})), "not valid UTF-8");
  WISP_REQUIRE_ERROR(writer.add("__metadata__", zeros({1})), "reserved");
  WISP_REQUIRE_ERROR(writer.add("u", Tensor()), "undefined");
  writer.add_metadata("k", "v");
  WISP_REQUIRE_ERROR(writer.add_metadata("k", "w"), "added twice");
}

TEST_CASE("atomic file: an uncommitted writer leaves the old file, stale temporaries are removed") {
  ScratchFolder folder("safetensors");
  const std::string path = folder.file("state.bin");
  write_bytes(path, "old");
  {
    AtomicFileWriter file(path);
    file.write("new contents", 12);
    CHECK(std::filesystem::exists(file.temporary_path()));
    // destroyed without commit(): as if writing had failed
  }
  std::ifstream in(path);
  CHECK(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()) == "old");
  CHECK(std::distance(std::filesystem::directory_iterator(folder.path), std::filesystem::directory_iterator()) == 1);

  write_bytes(folder.file(".state.bin.tmp-abc123"), "left by a killed writer");
  write_bytes(folder.file(".other.bin.tmp-abc123"), "another file's");
  CHECK(remove_stale_temporaries(path) == 1);
  CHECK(std::filesystem::exists(folder.file(".other.bin.tmp-abc123")));

  AtomicFileWriter file(path);
  file.write("new", 3);
  file.commit();
  std::ifstream again(path);
  CHECK(std::string((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>()) == "new");
  WISP_REQUIRE_ERROR(AtomicFileWriter(folder.file("no/such/folder/file")), "cannot write", "temporary file");
}
