// MnistDataset on small fake MNIST directories written with write_idx: both naming conventions,
// gzip, limits, normalisation, batches and every malformed input. The hidden tests [.real-mnist]
// and [.real-fashion-mnist] read the real files from $WISP_MNIST_DIR / $WISP_FASHION_MNIST_DIR:
//   WISP_MNIST_DIR=datasets/mnist build/release/tests/data_tests "[.real-mnist]"
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "test_helpers.h"

using namespace wisp;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path =
        fs::temp_directory_path() / ("wisp_test_mnist_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string str() const { return path.string(); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// Deterministic fake pixels and labels: sample i, pixel p.
uint8_t fake_pixel(int64_t i, int64_t p) { return static_cast<uint8_t>((i * 31 + p * 7) % 256); }
uint8_t fake_label(int64_t i) { return static_cast<uint8_t>((i * 3) % 10); }

Tensor fake_images(int64_t n, int64_t rows, int64_t cols) {
  std::vector<uint8_t> pixels(static_cast<size_t>(n * rows * cols));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < rows * cols; ++p) pixels[static_cast<size_t>(i * rows * cols + p)] = fake_pixel(i, p);
  return from_vector(pixels, {n, rows, cols});
}

Tensor fake_labels(int64_t n) {
  std::vector<uint8_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = fake_label(i);
  return from_vector(labels);
}

// "dash": train-images-idx3-ubyte, "dot": train-images.idx3-ubyte; gzip adds ".gz".
std::string file_name(const std::string& prefix, const std::string& kind, bool dot, bool gzip) {
  const std::string format = kind == "images" ? "idx3-ubyte" : "idx1-ubyte";
  return prefix + "-" + kind + (dot ? "." : "-") + format + (gzip ? ".gz" : "");
}

// Writes a split of n images of rows x cols; images 4 x 5 are deliberately not square.
void write_split(const TempDir& dir, const std::string& prefix, int64_t n, bool dot = false, bool gzip = false,
                 int64_t rows = 4, int64_t cols = 5) {
  data::write_idx(dir.file(file_name(prefix, "images", dot, gzip)), fake_images(n, rows, cols), gzip);
  data::write_idx(dir.file(file_name(prefix, "labels", dot, gzip)), fake_labels(n), gzip);
}

float normalized(uint8_t pixel, float mean = 0.1307f, float std_dev = 0.3081f) {
  return (static_cast<float>(pixel) / 255.0f - mean) / std_dev;
}

}  // namespace

TEST_CASE("MnistDataset reads both naming conventions, raw and gzip", "[data][mnist]") {
  const bool dot = GENERATE(false, true);
  const bool gzip = GENERATE(false, true);
  INFO("dot names " << dot << ", gzip " << gzip);
  TempDir dir;
  write_split(dir, "train", 7, dot, gzip);
  write_split(dir, "t10k", 3, dot, gzip);

  data::MnistDataset train(dir.str(), data::Split::Train);
  CHECK(train.size() == 7);
  CHECK(train.rows() == 4);
  CHECK(train.cols() == 5);
  CHECK(train.images_path() == dir.file(file_name("train", "images", dot, gzip)));
  CHECK(train.labels_path() == dir.file(file_name("train", "labels", dot, gzip)));
  CHECK(train.images().dtype() == DType::UInt8);
  CHECK(train.images().shape() == Shape{7, 4, 5});
  CHECK(train.images().to_vector<uint8_t>() == fake_images(7, 4, 5).to_vector<uint8_t>());
  CHECK(train.labels().dtype() == DType::Int64);
  CHECK(train.labels().to_vector<int64_t>() == std::vector<int64_t>{0, 3, 6, 9, 2, 5, 8});

  data::MnistDataset test(dir.str(), data::Split::Test);
  CHECK(test.size() == 3);
  CHECK(test.split() == data::Split::Test);
  CHECK(test.images_path() == dir.file(file_name("t10k", "images", dot, gzip)));
  CHECK(test.labels().to_vector<int64_t>() == std::vector<int64_t>{0, 3, 6});
}

TEST_CASE("MnistDataset lists the names it looked for when a file is missing", "[data][mnist]") {
  TempDir dir;
  WISP_REQUIRE_ERROR(data::MnistDataset(dir.str(), data::Split::Train), "no training images file", dir.str(),
                     "train-images-idx3-ubyte, train-images-idx3-ubyte.gz, train-images.idx3-ubyte, "
                     "train-images.idx3-ubyte.gz");
  data::write_idx(dir.file("train-images-idx3-ubyte"), fake_images(2, 4, 5));
  WISP_REQUIRE_ERROR(data::MnistDataset(dir.str(), data::Split::Train), "no training labels file", dir.str(),
                     "train-labels-idx1-ubyte, train-labels-idx1-ubyte.gz, train-labels.idx1-ubyte, "
                     "train-labels.idx1-ubyte.gz");
  WISP_REQUIRE_ERROR(data::MnistDataset(dir.str(), data::Split::Test), "no test images file", "t10k-images-idx3-ubyte");
  WISP_REQUIRE_ERROR(data::MnistDataset(dir.file("absent"), data::Split::Train), "absent", "does not exist");
  WISP_REQUIRE_ERROR(data::MnistDataset(dir.file("train-images-idx3-ubyte"), data::Split::Train),
                     "is a regular file, not a directory");
  CHECK(data::mnist_file_candidates(data::Split::Test, "labels") ==
        std::vector<std::string>{"t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz", "t10k-labels.idx1-ubyte",
                                 "t10k-labels.idx1-ubyte.gz"});
}

TEST_CASE("MnistDataset says what a data path is when it is not a file or a directory", "[data][mnist]") {
  TempDir dir;
  const std::string images = dir.file("train-images-idx3-ubyte");
  auto load = [&](const std::string& root) { return data::MnistDataset(root, data::Split::Train); };
  data::write_idx(dir.file("train-labels-idx1-ubyte"), fake_labels(2));

  SECTION("a directory that is a symbolic-link loop") {
    fs::create_symlink(dir.file("loop"), dir.file("loop"));
    WISP_REQUIRE_ERROR(load(dir.file("loop")), dir.file("loop"), "cannot be followed",
                       "Too many levels of symbolic links");
  }
  SECTION("a directory that is a dangling link") {
    fs::create_symlink(dir.file("gone"), dir.file("link"));
    WISP_REQUIRE_ERROR(load(dir.file("link")),
                       "is a symbolic link to '" + dir.file("gone") + "', which does not exist");
  }
  SECTION("an images file that is a FIFO") {
    REQUIRE(::mkfifo(images.c_str(), 0600) == 0);
    WISP_REQUIRE_ERROR(load(dir.str()),
                       "the training images file '" + images + "' is a FIFO (named pipe), not a regular file");
  }
  SECTION("an images file that is a link to /dev/zero") {
    fs::create_symlink("/dev/zero", images);
    WISP_REQUIRE_ERROR(load(dir.str()), images,
                       "is a symbolic link to '/dev/zero', a character device, not a regular file");
  }
  SECTION("an images file that is a directory, a link loop or a dangling link: not skipped for the next name") {
    data::write_idx(dir.file("train-images-idx3-ubyte.gz"), fake_images(2, 4, 5), true);
    fs::create_directory(images);
    WISP_REQUIRE_ERROR(load(dir.str()), images, "is a directory, not a regular file");
    fs::remove(images);
    fs::create_symlink(images, images);
    WISP_REQUIRE_ERROR(load(dir.str()), images, "cannot be followed", "Too many levels of symbolic links");
    fs::remove(images);
    fs::create_symlink(dir.file("absent"), images);
    WISP_REQUIRE_ERROR(load(dir.str()), images, "which does not exist");
  }
  SECTION("a link to a regular file is read") {
    data::write_idx(dir.file("pixels"), fake_images(2, 4, 5));
    fs::create_symlink(dir.file("pixels"), images);
    CHECK(load(dir.str()).size() == 2);
  }
}

TEST_CASE("MnistDataset names the file whose data does not fit in memory", "[data][mnist]") {
  TempDir dir;
  const std::string images = dir.file("train-images-idx3-ubyte");
  data::write_idx(dir.file("train-labels-idx1-ubyte"), fake_labels(2));
  // A valid header for 8 GiB of pixels, the data a hole in a sparse file: read_idx finds the sizes
  // consistent and allocates 8 GiB, which the address-space limit below refuses.
  data::write_idx(images, fake_images(1, 16, 32));
  {
    std::fstream header(images, std::ios::in | std::ios::out | std::ios::binary);
    header.seekp(4);
    const char count[4] = {0x01, 0x00, 0x00, 0x00};  // 2^24 images, big-endian
    header.write(count, 4);
  }
  fs::resize_file(images, 16 + (uintmax_t{1} << 33));
  rlimit original{};
  REQUIRE(::getrlimit(RLIMIT_AS, &original) == 0);
  // What the process maps now plus 1 GiB: enough to run, not enough for the images.
  std::ifstream status("/proc/self/status");
  std::string line;
  rlim_t mapped = 0;
  while (std::getline(status, line))
    if (line.rfind("VmSize:", 0) == 0) mapped = std::stoull(line.substr(7)) * 1024;
  REQUIRE(mapped > 0);
  rlimit limited = original;
  limited.rlim_cur = mapped + (rlim_t{1} << 30);
  if (original.rlim_cur != RLIM_INFINITY && original.rlim_cur < limited.rlim_cur) limited.rlim_cur = original.rlim_cur;
  REQUIRE(::setrlimit(RLIMIT_AS, &limited) == 0);
  std::string message;
  try {
    data::MnistDataset(dir.str(), data::Split::Train);
  } catch (const Error& error) {
    message = error.what();
  }
  REQUIRE(::setrlimit(RLIMIT_AS, &original) == 0);
  INFO("message: " << message);
  CHECK(message.find(images) != std::string::npos);
  CHECK(message.find("memory") != std::string::npos);
}

TEST_CASE("MnistDataset checks shapes, dtypes, counts and labels", "[data][mnist]") {
  TempDir dir;
  const std::string images = dir.file("train-images-idx3-ubyte");
  const std::string labels = dir.file("train-labels-idx1-ubyte");
  auto load = [&] { return data::MnistDataset(dir.str(), data::Split::Train); };
  data::write_idx(labels, fake_labels(6));

  SECTION("images of the wrong rank") {
    data::write_idx(images, fake_images(6, 4, 5).view({6, 20}));
    WISP_REQUIRE_ERROR(load(), images, "expected uint8 images of shape [N, rows, cols]", "[6, 20]");
  }
  SECTION("images of the wrong dtype") {
    data::write_idx(images, zeros({6, 4, 5}));
    WISP_REQUIRE_ERROR(load(), images, "expected uint8 images", "float32");
  }
  SECTION("images without pixels") {
    data::write_idx(images, empty({6, 0, 5}, DType::UInt8));
    WISP_REQUIRE_ERROR(load(), images, "at least 1 x 1 pixels", "[6, 0, 5]");
  }
  SECTION("corrupt images file") {
    data::write_idx(images, fake_images(6, 4, 5));
    fs::resize_file(images, fs::file_size(images) - 1);
    WISP_REQUIRE_ERROR(load(), images, "expected 120 bytes of data after the header but the file has 119");
  }
  SECTION("labels of the wrong rank or dtype") {
    data::write_idx(images, fake_images(6, 4, 5));
    data::write_idx(labels, fake_labels(6).view({2, 3}));
    WISP_REQUIRE_ERROR(load(), labels, "expected uint8 labels of shape [N]", "[2, 3]");
    data::write_idx(labels, zeros({6}, DType::Int32));
    WISP_REQUIRE_ERROR(load(), labels, "expected uint8 labels", "int32");
  }
  SECTION("count mismatch") {
    data::write_idx(images, fake_images(5, 4, 5));
    WISP_REQUIRE_ERROR(load(), "expected as many labels as images", images, "has 5 images", labels, "has 6 labels");
  }
  SECTION("label out of range") {
    data::write_idx(images, fake_images(6, 4, 5));
    data::write_idx(labels, from_vector(std::vector<uint8_t>{1, 2, 3, 4, 5, 12}));
    WISP_REQUIRE_ERROR(load(), labels, "label 12 at index 5 is out of range [0, 10)");
  }
}

TEST_CASE("MnistDataset keeps the first `limit` samples", "[data][mnist]") {
  TempDir dir;
  write_split(dir, "train", 7);
  data::MnistDataset three(dir.str(), data::Split::Train, 3);
  CHECK(three.size() == 3);
  CHECK(three.images().shape() == Shape{3, 4, 5});
  CHECK(three.images().to_vector<uint8_t>() == fake_images(3, 4, 5).to_vector<uint8_t>());
  CHECK(three.labels().to_vector<int64_t>() == std::vector<int64_t>{0, 3, 6});
  WISP_REQUIRE_ERROR(three.get_batch({3}), "sample index 3", "out of range [0, 3)");
  CHECK(data::MnistDataset(dir.str(), data::Split::Train, 100).size() == 7);  // more than there is: all
  CHECK(data::MnistDataset(dir.str(), data::Split::Train, -1).size() == 7);
  WISP_REQUIRE_ERROR(data::MnistDataset(dir.str(), data::Split::Train, 0), "limit", "-1", "positive", "got 0");
  WISP_REQUIRE_ERROR(data::MnistDataset(dir.str(), data::Split::Train, -2), "limit", "got -2");

  // A bad label past the limit is never read into the data set, so it is no error.
  data::write_idx(dir.file("train-labels-idx1-ubyte"), from_vector(std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 200}));
  CHECK(data::MnistDataset(dir.str(), data::Split::Train, 6).size() == 6);
  WISP_REQUIRE_ERROR(data::MnistDataset(dir.str(), data::Split::Train), "label 200 at index 6");
}

TEST_CASE("MnistDataset batches: shapes, dtypes, order and normalisation", "[data][mnist]") {
  TempDir dir;
  write_split(dir, "train", 7);
  data::MnistDataset dataset(dir.str(), data::Split::Train);
  const std::vector<int64_t> indices{6, 0, 3, 3};
  const data::Batch batch = dataset.get_batch(indices);
  REQUIRE(batch.data.dtype() == DType::Float32);
  REQUIRE(batch.data.shape() == Shape{4, 1, 4, 5});
  REQUIRE(batch.target.dtype() == DType::Int64);
  REQUIRE(batch.target.shape() == Shape{4});
  CHECK(batch.target.to_vector<int64_t>() == std::vector<int64_t>{8, 0, 9, 9});
  const std::vector<float> values = batch.data.to_vector<float>();
  for (size_t b = 0; b < indices.size(); ++b)
    for (int64_t p = 0; p < 20; ++p) {
      INFO("batch row " << b << ", pixel " << p);
      REQUIRE(values[b * 20 + static_cast<size_t>(p)] == normalized(fake_pixel(indices[b], p)));
    }

  // torchvision's ToTensor + Normalize((0.1307,), (0.3081,)) maps 0 and 255 to these.
  CHECK(normalized(0) == Approx(-0.42421296).epsilon(1e-6));
  CHECK(normalized(255) == Approx(2.8214867).epsilon(1e-6));

  CHECK(dataset.get_batch({}).data.shape() == Shape{0, 1, 4, 5});
  WISP_REQUIRE_ERROR(dataset.get_batch({0, 7}), "MnistDataset", "sample index 7", "position 1", "out of range [0, 7)");
  WISP_REQUIRE_ERROR(dataset.get_batch({-1}), "sample index -1");
}

TEST_CASE("MnistOptions: no normalisation, other statistics, invalid statistics", "[data][mnist]") {
  TempDir dir;
  write_split(dir, "train", 2);
  data::MnistDataset plain(dir.str(), data::Split::Train, -1, data::MnistOptions().normalize(false));
  const std::vector<float> scaled = plain.get_batch({1}).data.to_vector<float>();
  for (int64_t p = 0; p < 20; ++p)
    CHECK(scaled[static_cast<size_t>(p)] == static_cast<float>(fake_pixel(1, p)) / 255.0f);

  data::MnistDataset custom(dir.str(), data::Split::Train, -1, data::MnistOptions().mean(0.5).std(0.25));
  const std::vector<float> shifted = custom.get_batch({1}).data.to_vector<float>();
  for (int64_t p = 0; p < 20; ++p) CHECK(shifted[static_cast<size_t>(p)] == normalized(fake_pixel(1, p), 0.5f, 0.25f));

  WISP_REQUIRE_ERROR(data::MnistDataset(dir.str(), data::Split::Train, -1, data::MnistOptions().std(0)), "positive std",
                     "std 0");
}

// ---- real data (hidden: run with the tag and the environment variable) ----------------------------

namespace {

std::string environment_dir(const char* variable) {
  const char* value = std::getenv(variable);
  INFO("set " << variable << " to the directory holding the IDX files");
  REQUIRE(value != nullptr);
  return value;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<int64_t> histogram(const Tensor& labels) {
  std::vector<int64_t> counts(10, 0);
  for (int64_t label : labels.to_vector<int64_t>()) ++counts[static_cast<size_t>(label)];
  return counts;
}

std::vector<int64_t> first_labels(const data::MnistDataset& dataset, size_t n) {
  std::vector<int64_t> labels = dataset.labels().to_vector<int64_t>();
  labels.resize(n);
  return labels;
}

// Loads both splits and prints how long it took.
std::pair<data::MnistDataset, data::MnistDataset> load_and_time(const std::string& root, const std::string& what) {
  const auto start = std::chrono::steady_clock::now();
  data::MnistDataset train(root, data::Split::Train);
  data::MnistDataset test(root, data::Split::Test);
  std::cout << what << ": read " << train.size() << " + " << test.size() << " samples from " << train.images_path()
            << " etc. in " << seconds_since(start) << " s\n";
  return {std::move(train), std::move(test)};
}

}  // namespace

TEST_CASE("real MNIST: sizes, first labels, label histograms, raw and gzip", "[.real-mnist]") {
  const std::string root = environment_dir("WISP_MNIST_DIR");
  auto [train, test] = load_and_time(root, "MNIST");
  CHECK(train.size() == 60000);
  CHECK(test.size() == 10000);
  CHECK(train.images().shape() == Shape{60000, 28, 28});
  CHECK(first_labels(train, 5) == std::vector<int64_t>{5, 0, 4, 1, 9});
  CHECK(first_labels(test, 5) == std::vector<int64_t>{7, 2, 1, 0, 4});
  CHECK(histogram(train.labels()) == std::vector<int64_t>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949});
  CHECK(histogram(test.labels()) == std::vector<int64_t>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009});
  const data::Batch batch = train.get_batch({0});
  const std::vector<float> pixels = batch.data.to_vector<float>();
  CHECK(*std::min_element(pixels.begin(), pixels.end()) == normalized(0));
  CHECK(*std::max_element(pixels.begin(), pixels.end()) == normalized(255));

  // The same files gzip-compressed (as LeCun's site ships them) give the same data set.
  TempDir gz;
  for (const std::string name :
       {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"})
    data::write_idx(gz.file(name + ".gz"), data::read_idx((fs::path(root) / name).string()), true);
  auto [train_gz, test_gz] = load_and_time(gz.str(), "MNIST (gzip)");
  CHECK(train_gz.images().to_vector<uint8_t>() == train.images().to_vector<uint8_t>());
  CHECK(test_gz.labels().to_vector<int64_t>() == test.labels().to_vector<int64_t>());
}

TEST_CASE("real Fashion-MNIST: sizes, first labels, balanced classes", "[.real-fashion-mnist]") {
  const std::string root = environment_dir("WISP_FASHION_MNIST_DIR");
  auto [train, test] = load_and_time(root, "Fashion-MNIST");
  CHECK(train.size() == 60000);
  CHECK(test.size() == 10000);
  CHECK(first_labels(train, 5) == std::vector<int64_t>{9, 0, 0, 3, 0});
  CHECK(first_labels(test, 5) == std::vector<int64_t>{9, 2, 1, 1, 6});
  CHECK(histogram(train.labels()) == std::vector<int64_t>(10, 6000));
  CHECK(histogram(test.labels()) == std::vector<int64_t>(10, 1000));
}
