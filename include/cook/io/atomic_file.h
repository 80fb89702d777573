// Atomic file replacement: the bytes go to a temporary file in the target's folder, which is
// fsync'ed and renamed over the target, and the folder is fsync'ed. Readers see the old file or
// the complete new one, never a half-written one, even across a crash. Every checkpoint, mask and
// export writer in Cook writes through this.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cook::io {

class AtomicFile {
 public:
  // Creates the temporary file "<folder>/.<name>.tmp-<pid>-<n>" beside `path` (the folder must
  // exist). A `path` that is a symbolic link to a regular file replaces that file and keeps the
  // link; a folder, FIFO, device, socket or dangling link is refused, never replaced. Throws
  // cook::Error naming `path`.
  explicit AtomicFile(std::string path);
  // Without commit(), removes the temporary file; the target is left as it was.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends bytes. Small writes are buffered; large ones go straight to the file (no copy).
  // Throws cook::Error naming the target path (the temporary file is removed).
  void write(const void* data, size_t size);
  void write(std::string_view s) { write(s.data(), s.size()); }

  // Flushes, fsyncs, renames over the target and fsyncs the folder, then removes the temporary
  // files of the same target that killed writers left (their pid no longer runs). Throws
  // cook::Error naming the target path; on failure the temporary file is removed and the target
  // is untouched.
  void commit();
  // Removes the temporary file now (the destructor does it too).
  void abandon() noexcept;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  uint64_t bytes_written() const { return written_ + buffer_.size(); }

 private:
  void flush_buffer();
  void write_all(const void* data, size_t size);
  [[noreturn]] void fail(const std::string& what);

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool done_ = false;
  uint64_t written_ = 0;
  std::vector<char> buffer_;
};

// Writes `contents` to `path` atomically.
void write_file_atomic(const std::string& path, std::string_view contents);
// Calls `writer` with an AtomicFile for `path` and commits it when `writer` returns; when `writer`
// throws, the temporary file is removed, the target left untouched, and the exception re-thrown
// with the path in front (a cook::Error that already names the path is re-thrown as it is).
void write_file_atomic(const std::string& path, const std::function<void(AtomicFile&)>& writer);

// fsyncs a folder so that renames and creations inside it are durable. Throws naming the folder.
void fsync_directory(const std::string& folder);
// The folder part of `path` ("." when it has none).
std::string parent_folder(const std::string& path);

}  // namespace cook::io
