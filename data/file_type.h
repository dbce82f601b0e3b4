// What a path is, in words, for messages about a file that is not what was expected.
#pragma once

#include <filesystem>
#include <string>

namespace wisp::data {

// "a directory", "a FIFO (named pipe)", "a character device", ... with its article.
inline std::string describe_file_type(std::filesystem::file_type type) {
  using std::filesystem::file_type;
  switch (type) {
    case file_type::regular:
      return "a regular file";
    case file_type::directory:
      return "a directory";
    case file_type::symlink:
      return "a symbolic link";
    case file_type::block:
      return "a block device";
    case file_type::character:
      return "a character device";
    case file_type::fifo:
      return "a FIFO (named pipe)";
    case file_type::socket:
      return "a socket";
    case file_type::not_found:
      return "nothing (it does not exist)";
    default:
      return "a file of unknown type";
  }
}

}  // namespace wisp::data
