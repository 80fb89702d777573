#include "cook/io/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cook/core/error.h"
#include "cook/core/fault_point.h"
#include "cook/core/input_file.h"

namespace cook::io {

namespace {

constexpr size_t kBufferSize = size_t{1} << 20;  // writes of this size or more bypass the buffer

std::atomic<uint64_t> g_temp_counter{0};

std::string base_name(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string parent_folder(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void fsync_directory(const std::string& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(folder, std::string("cannot open folder to fsync: ") + std::strerror(errno));
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    int e = errno;
    ::close(fd);
    throw Error(folder, std::string("fsync of folder failed: ") + std::strerror(e));
  }
  ::close(fd);
}

namespace {

// The file to replace for `path`: itself, or the regular file a symbolic link points to.
std::string writable_target(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return path;  // a new file
  if (S_ISREG(st.st_mode)) return path;
  if (S_ISLNK(st.st_mode)) {
    // Replace what the link points to, and keep the link: as an editor or `cp` would.
    char* resolved = ::realpath(path.c_str(), nullptr);
    if (resolved == nullptr)
      throw Error(path, std::string("is a symbolic link that does not resolve (") + std::strerror(errno) +
                            "); refusing to replace it with a file");
    std::string target(resolved);
    std::free(resolved);
    struct stat target_st {};
    if (::stat(target.c_str(), &target_st) == 0 && !S_ISREG(target_st.st_mode))
      throw Error(path, "is a symbolic link to " + target + ", which is " + file_type_description(target_st.st_mode) +
                            "; Cook writes regular files only and will not replace it");
    return target;
  }
  if (S_ISDIR(st.st_mode)) throw Error(path, "is a folder; cannot write a file over it");
  // A file is written beside its target and renamed over it: that would delete a device node,
  // FIFO or socket (as root, `--output /dev/null` would destroy /dev/null).
  throw Error(path, "is " + file_type_description(st.st_mode) +
                        "; Cook writes regular files only and will not replace it");
}

// Removes the temporary files of `name` that processes which no longer run left in `folder` (a
// writer killed mid-write): "<folder>/.<name>.tmp-<pid>-<n>" whose pid is not alive. A pid reused
// by an unrelated process only keeps an orphan a little longer.
void remove_stale_temporaries(const std::string& folder, const std::string& name) {
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return;
  const std::string prefix = "." + name + ".tmp-";
  std::vector<std::string> stale;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string entry_name = entry->d_name;
    if (entry_name.compare(0, prefix.size(), prefix) != 0) continue;
    const long pid = std::strtol(entry_name.c_str() + prefix.size(), nullptr, 10);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(entry_name);
  }
  ::closedir(dir);
  for (const auto& entry_name : stale) ::unlink(((folder == "/" ? "" : folder) + "/" + entry_name).c_str());
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(writable_target(path)) {
  std::string name = base_name(path_);
  if (name.empty() || name == "." || name == "..") throw Error(path_, "not a file name");
  std::string folder = parent_folder(path_);
  // O_EXCL with a unique name: two writers of the same target never share a temporary file.
  for (int attempt = 0; attempt < 100; ++attempt) {
    temp_path_ = (folder == "/" ? "" : folder) + "/." + name + ".tmp-" + std::to_string(::getpid()) + "-" +
                 std::to_string(g_temp_counter.fetch_add(1));
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) break;
    if (errno != EEXIST)
      throw Error(path_, "cannot create temporary file " + temp_path_ + ": " + std::strerror(errno));
  }
  if (fd_ < 0) throw Error(path_, "cannot find a free temporary file name beside it");
  buffer_.reserve(kBufferSize);
}

AtomicFile::~AtomicFile() { abandon(); }

void AtomicFile::abandon() noexcept {
  if (done_) return;
  done_ = true;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(temp_path_.c_str());
}

void AtomicFile::fail(const std::string& what) {
  abandon();
  throw Error(path_, what);
}

void AtomicFile::write_all(const void* data, size_t size) {
  auto p = static_cast<const char*>(data);
  while (size > 0) {
    // Linux writes at most 0x7ffff000 bytes per call.
    size_t chunk = size < (size_t{1} << 30) ? size : (size_t{1} << 30);
    ssize_t n = ::write(fd_, p, chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(std::string("write failed after ") + std::to_string(written_) + " bytes: " + std::strerror(errno));
    }
    p += n;
    size -= static_cast<size_t>(n);
    written_ += static_cast<uint64_t>(n);
  }
}

void AtomicFile::flush_buffer() {
  if (buffer_.empty()) return;
  write_all(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void AtomicFile::write(const void* data, size_t size) {
  if (done_) throw Error(path_, "write after commit or abandon");
  if (size == 0) return;
  if (buffer_.size() + size <= kBufferSize) {
    auto p = static_cast<const char*>(data);
    buffer_.insert(buffer_.end(), p, p + size);
    return;
  }
  flush_buffer();
  if (size < kBufferSize) {
    auto p = static_cast<const char*>(data);
    buffer_.insert(buffer_.end(), p, p + size);
  } else {
    write_all(data, size);
  }
}

void AtomicFile::commit() {
  if (done_) throw Error(path_, "commit after commit or abandon");
  flush_buffer();
  if (::fsync(fd_) != 0) fail(std::string("fsync failed: ") + std::strerror(errno));
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail(std::string("close failed: ") + std::strerror(errno));
  fault_point("atomic-file.before-rename");
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0)
    fail("cannot rename " + temp_path_ + " over it: " + std::strerror(errno));
  done_ = true;  // the temporary name no longer exists
  fsync_directory(parent_folder(path_));
  remove_stale_temporaries(parent_folder(path_), base_name(path_));
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  AtomicFile f(path);
  f.write(contents);
  f.commit();
}

void write_file_atomic(const std::string& path, const std::function<void(AtomicFile&)>& writer) {
  AtomicFile f(path);
  try {
    writer(f);
  } catch (const Error& e) {
    f.abandon();
    if (e.where() == path) throw;
    rethrow_with_context(path, e);
  } catch (const std::exception& e) {
    f.abandon();
    rethrow_with_context(path, e);
  }
  f.commit();
}

}  // namespace cook::io
