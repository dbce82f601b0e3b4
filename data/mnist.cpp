#include "wisp/data/mnist.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <new>

#include "wisp/data/file_type.h"
#include "wisp/data/idx.h"

namespace wisp::data {
namespace {

const char* split_name(Split split) { return split == Split::Train ? "training" : "test"; }

// What is wrong with a path that is not a usable `expected`, or "" when nothing is: missing,
// a symbolic-link loop, a dangling link, or a path that exists but is another kind of file.
std::string path_problem(const std::filesystem::path& path, std::filesystem::file_type expected) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);  // follows links
  if (error && error != std::errc::no_such_file_or_directory) return "cannot be followed: " + error.message();
  if (status.type() == expected) return "";
  std::error_code ignored;
  const fs::file_status link = fs::symlink_status(path, ignored);
  if (!fs::exists(status)) {
    if (fs::is_symlink(link))
      return "is a symbolic link to '" + fs::read_symlink(path, ignored).string() + "', which does not exist";
    return "does not exist";
  }
  const std::string what = describe_file_type(status.type()) + ", not " + describe_file_type(expected);
  if (fs::is_symlink(link)) return "is a symbolic link to '" + fs::read_symlink(path, ignored).string() + "', " + what;
  return "is " + what;
}

// The first candidate that exists in `root`, or an error listing every name tried. A candidate
// that exists but is not a regular file (a FIFO, a device, a link to /dev/zero, a directory, a
// link loop) is an error of its own rather than a reason to look further.
std::string find_file(const std::string& root, Split split, const std::string& kind) {
  namespace fs = std::filesystem;
  const std::string root_problem = path_problem(root, fs::file_type::directory);
  WISP_CHECK(root_problem.empty(), "MnistDataset: expected a directory holding the MNIST files but '", root, "' ",
             root_problem);
  const std::vector<std::string> candidates = mnist_file_candidates(split, kind);
  std::string tried;
  for (const std::string& name : candidates) {
    const fs::path path = fs::path(root) / name;
    std::error_code ignored;
    const bool present = fs::exists(fs::symlink_status(path, ignored));  // a dangling link is present
    if (present) {
      const std::string problem = path_problem(path, fs::file_type::regular);
      WISP_CHECK(problem.empty(), "MnistDataset: the ", split_name(split), " ", kind, " file '", path.string(), "' ",
                 problem);
      return path.string();
    }
    tried += (tried.empty() ? "" : ", ") + name;
  }
  WISP_FAIL("MnistDataset: no ", split_name(split), " ", kind, " file in '", root, "': looked for ", tried,
            " (scripts/fetch_mnist.sh downloads them)");
}

// read_idx(path), with errors that do not name the file (running out of memory for its data)
// saying which file was being read.
Tensor read_mnist_file(const std::string& path, Split split, const std::string& kind) {
  try {
    return read_idx(path);
  } catch (const Error& error) {
    const std::string message = error.what();
    if (message.find(path) != std::string::npos) throw;
    throw Error(
        detail::concat("MnistDataset: reading the ", split_name(split), " ", kind, " file '", path, "': ", message));
  } catch (const std::bad_alloc&) {
    WISP_FAIL("MnistDataset: reading the ", split_name(split), " ", kind, " file '", path, "': out of memory");
  }
}

}  // namespace

std::vector<std::string> mnist_file_candidates(Split split, const std::string& kind) {
  WISP_CHECK(kind == "images" || kind == "labels",
             "mnist_file_candidates: expected kind \"images\" or \"labels\" but got \"", kind, "\"");
  const std::string stem = std::string(split == Split::Train ? "train" : "t10k") + "-" + kind;
  const std::string format = kind == "images" ? "idx3-ubyte" : "idx1-ubyte";
  // Yann LeCun's names use '-', torchvision and Kaggle copies '.'; either may be gzip-compressed.
  return {stem + "-" + format, stem + "-" + format + ".gz", stem + "." + format, stem + "." + format + ".gz"};
}

MnistDataset::MnistDataset(const std::string& root, Split split, int64_t limit, MnistOptions options)
    : split_(split), options_(options) {
  WISP_CHECK(limit == -1 || limit > 0, "MnistDataset: expected limit -1 (all samples) or a positive number but got ",
             limit);
  WISP_CHECK(std::isfinite(options_.mean()) && std::isfinite(options_.std()) && options_.std() > 0,
             "MnistDataset: expected a finite mean and a positive std but got mean ", options_.mean(), ", std ",
             options_.std());
  images_path_ = find_file(root, split, "images");
  labels_path_ = find_file(root, split, "labels");

  Tensor images = read_mnist_file(images_path_, split, "images");
  WISP_CHECK(images.dtype() == DType::UInt8 && images.dim() == 3, "MnistDataset: '", images_path_,
             "': expected uint8 images of shape [N, rows, cols] but got ", images.dtype(), " of shape ",
             images.shape());
  WISP_CHECK(images.size(1) > 0 && images.size(2) > 0, "MnistDataset: '", images_path_,
             "': expected images of at least 1 x 1 pixels but got shape ", images.shape());
  Tensor raw_labels = read_mnist_file(labels_path_, split, "labels");
  WISP_CHECK(raw_labels.dtype() == DType::UInt8 && raw_labels.dim() == 1, "MnistDataset: '", labels_path_,
             "': expected uint8 labels of shape [N] but got ", raw_labels.dtype(), " of shape ", raw_labels.shape());
  WISP_CHECK(images.size(0) == raw_labels.size(0), "MnistDataset: expected as many labels as images but '",
             images_path_, "' has ", images.size(0), " images and '", labels_path_, "' has ", raw_labels.size(0),
             " labels");
  const int64_t available = images.size(0);
  size_ = limit == -1 ? available : std::min(limit, available);

  // Labels are checked and widened to Int64 (what losses take) once, here.
  labels_ = empty({size_}, DType::Int64);
  const uint8_t* label_bytes = raw_labels.data<uint8_t>();
  int64_t* labels = labels_.data<int64_t>();
  for (int64_t i = 0; i < size_; ++i) {
    WISP_CHECK(label_bytes[i] < kNumClasses, "MnistDataset: '", labels_path_, "': label ",
               static_cast<int>(label_bytes[i]), " at index ", i, " is out of range [0, ", kNumClasses, ")");
    labels[i] = label_bytes[i];
  }

  if (size_ == available) {
    images_ = images;
  } else {  // copy the kept prefix so that the rest of the file's pixels are freed
    images_ = empty({size_, images.size(1), images.size(2)}, DType::UInt8);
    if (images_.numel() > 0) std::memcpy(images_.raw_data(), images.raw_data(), images_.nbytes());
  }

  // Same float32 arithmetic as torchvision's ToTensor (x / 255) and Normalize ((x - mean) / std).
  pixel_values_.resize(256);
  const auto mean = static_cast<float>(options_.mean()), deviation = static_cast<float>(options_.std());
  for (int p = 0; p < 256; ++p) {
    const float x = static_cast<float>(p) / 255.0f;
    pixel_values_[static_cast<size_t>(p)] = options_.normalize() ? (x - mean) / deviation : x;
  }
}

Batch MnistDataset::get_batch(const std::vector<int64_t>& indices) const {
  check_indices("MnistDataset::get_batch", indices, size_);
  const auto batch_size = static_cast<int64_t>(indices.size());
  const int64_t pixels = rows() * cols();
  Batch batch{empty({batch_size, 1, rows(), cols()}), empty({batch_size}, DType::Int64)};
  const uint8_t* images = images_.data<uint8_t>();
  const int64_t* labels = labels_.data<int64_t>();
  const float* lookup = pixel_values_.data();
  float* out = batch.data.data<float>();
  int64_t* target = batch.target.data<int64_t>();
  for (int64_t b = 0; b < batch_size; ++b) {
    const int64_t sample = indices[static_cast<size_t>(b)];
    const uint8_t* source = images + sample * pixels;
    float* destination = out + b * pixels;
    for (int64_t p = 0; p < pixels; ++p) destination[p] = lookup[source[p]];
    target[b] = labels[sample];
  }
  return batch;
}

}  // namespace wisp::data
