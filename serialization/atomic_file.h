// Crash-safe file writing: a crash, a full disk or a killed process at any moment leaves either the
// file's old contents or the complete new file, never a torn one.
//
// The contents go to a temporary file in the target's folder (a rename is atomic only within one
// file system), which is flushed to disk (fsync) and renamed over the target; the folder is then
// synced so that the rename itself survives a power loss. A writer destroyed before commit()
// removes its temporary file; one killed outright leaves it behind, named ".<name>.tmp-XXXXXX",
// for remove_stale_temporaries().
#pragma once

#include <cstddef>
#include <string>

namespace wisp::serialization {

class AtomicFileWriter {
 public:
  // Creates the temporary file beside `path`. Throws wisp::Error when the folder cannot hold it.
  explicit AtomicFileWriter(const std::string& path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Appends bytes; throws (naming the target) when the disk refuses them.
  void write(const void* data, size_t size);
  // Flushes, renames over the target and syncs the folder. After it, the target holds the new file.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temporary_path() const { return temporary_path_; }

 private:
  std::string path_;
  std::string temporary_path_;
  int descriptor_ = -1;
  bool committed_ = false;
};

// Removes the temporary files that writers killed mid-write left beside `path`; returns how many.
int remove_stale_temporaries(const std::string& path);

}  // namespace wisp::serialization
