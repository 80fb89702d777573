#include "cook/core/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "cook/core/error.h"
#include "cook/core/resources.h"

namespace cook {

namespace {
constexpr const char* kLockFile = ".cook.lock";

std::string read_holder(int fd) {
  char buffer[256] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  if (n <= 0) return "";
  std::string s(buffer, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}
}  // namespace

FolderLock::FolderLock(const std::string& folder) : folder_(folder) {
  ensure_directory(folder);
  const std::string path = folder + "/" + kLockFile;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw Error(path, std::string("cannot open the folder's lock file: ") + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    const std::string holder = read_holder(fd);
    ::close(fd);
    if (e == EWOULDBLOCK)
      throw Error(folder, "is in use by another run (" + (holder.empty() ? std::string("pid unknown") : holder) +
                              "); two runs into one folder would mix their checkpoints and metrics: wait for it, "
                              "or give this run another folder");
    throw Error(path, std::string("cannot lock: ") + std::strerror(e));
  }
  // Who holds it, for the message of a run that is refused; a failure here costs nothing else.
  const std::string me = "pid " + std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, me.data(), me.size(), 0);
  fd_ = fd;
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

FolderLock::FolderLock(FolderLock&& other) noexcept : folder_(std::move(other.folder_)), fd_(other.fd_) {
  other.fd_ = -1;
}

FolderLock& FolderLock::operator=(FolderLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    folder_ = std::move(other.folder_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

}  // namespace cook
