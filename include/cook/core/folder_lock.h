// One run per output folder. A FolderLock holds an exclusive advisory lock (flock) on
// "<folder>/.cook.lock" for as long as it lives; a second process that asks for the same folder
// is refused with an error naming the folder and the holder's pid, instead of interleaving its
// checkpoints and metrics with the first run's. The kernel drops the lock when the holder exits,
// however it exits (kill -9 included), so a stale lock file never blocks a later run.
#pragma once
#include <string>

namespace cook {

class FolderLock {
 public:
  FolderLock() = default;
  // Creates the folder if needed and takes its lock; throws cook::Error naming the folder when
  // another process holds it. Taking the lock of a folder this process already holds is refused
  // the same way (two runs of one process into one folder mix just as badly).
  explicit FolderLock(const std::string& folder);
  ~FolderLock();
  FolderLock(FolderLock&& other) noexcept;
  FolderLock& operator=(FolderLock&& other) noexcept;
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

  bool held() const { return fd_ >= 0; }
  const std::string& folder() const { return folder_; }

 private:
  std::string folder_;
  int fd_ = -1;
};

}  // namespace cook
