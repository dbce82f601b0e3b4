// MNIST-format data sets (MNIST, Fashion-MNIST): IDX image and label files in one directory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wisp/core/arguments.h"
#include "wisp/data/dataset.h"

namespace wisp::data {

enum class Split { Train, Test };

// How MnistDataset turns raw pixels p (0..255) into inputs: p / 255 (torchvision's ToTensor),
// then, when normalize() is true, (x - mean) / std (torchvision's Normalize), in float32.
// The defaults are MNIST's training-set statistics.
class MnistOptions {
  WISP_ARG(double, mean, 0.1307);
  WISP_ARG(double, std, 0.3081);
  WISP_ARG(bool, normalize, true);
};

// The training (60000) or test (10000) split of an MNIST-format data set in directory `root`.
//
// Files, looked up in `root` in this order (the first that exists is used):
//   train-images-idx3-ubyte[.gz]  train-images.idx3-ubyte[.gz]   (t10k-images-* for Split::Test)
//   train-labels-idx1-ubyte[.gz]  train-labels.idx1-ubyte[.gz]   (t10k-labels-*)
// Gzip is detected by content (see read_idx). The images must be a uint8 IDX file of rank 3
// [N, rows, cols] (rows and cols come from the file), the labels a uint8 IDX file of rank 1 [N]
// with values in [0, 10). `limit` keeps the first `limit` samples (-1: all; a limit above N keeps
// all N). Every violation is a wisp::Error naming the file; labels past `limit` are not kept, so
// they are not checked either.
//
// The raw uint8 images stay in memory (47 MB for MNIST's training set); get_batch converts only
// the samples it returns.
//
// Thread-safety: immutable after construction; all const members are safe to call concurrently
// (DataLoader's prefetch thread relies on this).
class MnistDataset : public Dataset {
 public:
  MnistDataset(const std::string& root, Split split, int64_t limit = -1, MnistOptions options = {});

  int64_t size() const override { return size_; }

  // data: Float32 [B, 1, rows, cols], pixels transformed as MnistOptions says;
  // target: Int64 [B]. Throws wisp::Error when an index is outside [0, size()).
  Batch get_batch(const std::vector<int64_t>& indices) const override;

  const Tensor& images() const { return images_; }  // raw pixels: UInt8 [N, rows, cols], CPU
  const Tensor& labels() const { return labels_; }  // Int64 [N] in [0, 10), CPU
  int64_t rows() const { return images_.size(1); }
  int64_t cols() const { return images_.size(2); }
  Split split() const { return split_; }
  const MnistOptions& options() const { return options_; }
  const std::string& images_path() const { return images_path_; }  // the files actually read
  const std::string& labels_path() const { return labels_path_; }

  static constexpr int64_t kNumClasses = 10;

 private:
  Split split_;
  MnistOptions options_;
  std::string images_path_, labels_path_;
  Tensor images_, labels_;
  int64_t size_ = 0;
  std::vector<float> pixel_values_;  // the transformed value of each of the 256 pixel values
};

// The file names MnistDataset looks for, in order: kind is "images" or "labels".
std::vector<std::string> mnist_file_candidates(Split split, const std::string& kind);

}  // namespace wisp::data
