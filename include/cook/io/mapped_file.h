// A file mapped read-only into memory. Shared ownership: whoever aliases the bytes (a parsed
// safetensors file, a torch::Tensor made with from_blob) holds a std::shared_ptr<const MappedFile>
// and the mapping lives until the last holder lets go.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace cook::io {

class MappedFile {
 public:
  // Maps the whole of `path` read-only (PROT_READ). An empty file maps to size() == 0 and a null
  // data(). Throws cook::Error naming the path when it cannot be opened, is not a regular file (a
  // FIFO is refused without waiting for a writer) or cannot be mapped. Should the file shrink
  // while it is mapped, reading the lost part ends the process with exit code 1 and an error
  // naming the file, instead of a bare SIGBUS.
  static std::shared_ptr<const MappedFile> open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // True when [p, p + n) lies inside the mapping.
  bool contains(const void* p, size_t n = 0) const;

  // Hints for the kernel; both are advice only and never fail.
  void advise_sequential() const;
  // Starts reading [p, p + n) ahead of use.
  void prefetch(const void* p, size_t n) const;
  // Drops the resident pages wholly inside [p, p + n) from this process (madvise DONTNEED): the
  // bytes stay readable (a later read faults them in again from the file), but a caller that has
  // copied them elsewhere no longer pays for them in its resident set.
  void release(const void* p, size_t n) const;

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size);
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* live_ = nullptr;  // this mapping's entry in the SIGBUS handler's table
};

}  // namespace cook::io
