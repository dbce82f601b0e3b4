// Files for the serialization tests: a scratch folder removed at the end of a test, and a file's
// bytes.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "test_helpers.h"

namespace wisp::testing {

// A fresh folder under the system's temporary folder ("wisp-<purpose>-XXXXXX"), removed with
// everything in it when the object goes out of scope.
struct ScratchFolder {
  std::filesystem::path path;
  explicit ScratchFolder(const std::string& purpose) {
    std::string pattern = (std::filesystem::temp_directory_path() / ("wisp-" + purpose + "-XXXXXX")).string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~ScratchFolder() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline std::string file_bytes(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>());
}

}  // namespace wisp::testing
