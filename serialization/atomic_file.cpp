#include "wisp/serialization/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "wisp/core/error.h"

namespace wisp::serialization {
namespace {

struct SplitPath {
  std::string folder;  // "." when the path has none
  std::string name;
};

SplitPath split_path(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

std::string temporary_prefix(const SplitPath& parts) { return "." + parts.name + ".tmp-"; }

std::string system_error() { return std::strerror(errno); }

}  // namespace

AtomicFileWriter::AtomicFileWriter(const std::string& path) : path_(path) {
  const SplitPath parts = split_path(path);
  WISP_CHECK(!parts.name.empty(), "cannot write '", path, "': expected a file name, not a folder");
  std::string pattern = parts.folder + "/" + temporary_prefix(parts) + "XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  descriptor_ = ::mkstemp(buffer.data());
  WISP_CHECK(descriptor_ >= 0, "cannot write '", path, "': creating a temporary file in '", parts.folder,
             "' failed: ", system_error());
  temporary_path_ = buffer.data();
}

AtomicFileWriter::~AtomicFileWriter() {
  if (descriptor_ >= 0) ::close(descriptor_);
  if (!committed_ && !temporary_path_.empty()) ::unlink(temporary_path_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t size) {
  WISP_CHECK(descriptor_ >= 0 && !committed_, "cannot write '", path_, "': the file was already committed");
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(descriptor_, bytes, size);
    if (written < 0 && errno == EINTR) continue;
    WISP_CHECK(written > 0, "cannot write '", path_, "': writing ", size, " bytes to '", temporary_path_,
               "' failed: ", written < 0 ? system_error() : std::string("no progress"));
    bytes += written;
    size -= static_cast<size_t>(written);
  }
}

void AtomicFileWriter::commit() {
  WISP_CHECK(descriptor_ >= 0 && !committed_, "cannot write '", path_, "': the file was already committed");
  // mkstemp creates the file 0600; a saved model is an ordinary file (0666 less the umask).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  WISP_CHECK(::fchmod(descriptor_, 0666 & ~mask) == 0, "cannot write '", path_, "': fchmod failed: ", system_error());
  WISP_CHECK(::fsync(descriptor_) == 0, "cannot write '", path_, "': flushing '", temporary_path_,
             "' to disk failed: ", system_error());
  const int status = ::close(descriptor_);
  descriptor_ = -1;
  WISP_CHECK(status == 0, "cannot write '", path_, "': closing '", temporary_path_, "' failed: ", system_error());
  WISP_CHECK(::rename(temporary_path_.c_str(), path_.c_str()) == 0, "cannot write '", path_, "': renaming '",
             temporary_path_, "' over it failed: ", system_error());
  committed_ = true;
  // The rename is durable once the folder's entry is on disk. A folder that cannot be opened or
  // synced (some network file systems) still holds the complete file: not an error.
  const int folder = ::open(split_path(path_).folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder >= 0) {
    ::fsync(folder);
    ::close(folder);
  }
}

int remove_stale_temporaries(const std::string& path) {
  const SplitPath parts = split_path(path);
  const std::string prefix = temporary_prefix(parts);
  DIR* folder = ::opendir(parts.folder.c_str());
  if (folder == nullptr) return 0;
  int removed = 0;
  while (const dirent* entry = ::readdir(folder)) {
    const std::string name = entry->d_name;
    // mkstemp's suffix is exactly 6 characters.
    if (name.size() == prefix.size() + 6 && name.compare(0, prefix.size(), prefix) == 0 &&
        ::unlink((parts.folder + "/" + name).c_str()) == 0)
      ++removed;
  }
  ::closedir(folder);
  return removed;
}

}  // namespace wisp::serialization
