#include "cook/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cook/core/error.h"

namespace cook::io {

namespace {

size_t page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path, std::string("cannot open for reading: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw Error(path, std::string("cannot stat: ") + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path, S_ISDIR(st.st_mode) ? "is a folder, not a file" : "is not a regular file");
  }
  size_t size = static_cast<size_t>(st.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      throw Error(path, "cannot map " + std::to_string(size) + " bytes: " + std::strerror(e));
    }
    data = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps its own reference to the file
  return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

MappedFile::MappedFile(std::string path, const uint8_t* data, size_t size)
    : path_(std::move(path)), data_(data), size_(size) {}

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
}

bool MappedFile::contains(const void* p, size_t n) const {
  if (data_ == nullptr) return false;
  auto a = reinterpret_cast<uintptr_t>(p);
  auto b = reinterpret_cast<uintptr_t>(data_);
  return a >= b && a - b <= size_ && n <= size_ - (a - b);
}

void MappedFile::advise_sequential() const {
  if (data_ != nullptr) madvise(const_cast<uint8_t*>(data_), size_, MADV_SEQUENTIAL);
}

void MappedFile::prefetch(const void* p, size_t n) const {
  if (n == 0 || !contains(p, n)) return;
  auto a = reinterpret_cast<uintptr_t>(p) & ~(page_size() - 1);
  auto e = reinterpret_cast<uintptr_t>(p) + n;
  madvise(reinterpret_cast<void*>(a), e - a, MADV_WILLNEED);
}

void MappedFile::release(const void* p, size_t n) const {
  if (n == 0 || !contains(p, n)) return;
  const uintptr_t ps = page_size();
  uintptr_t a = (reinterpret_cast<uintptr_t>(p) + ps - 1) & ~(ps - 1);  // first whole page
  uintptr_t e = (reinterpret_cast<uintptr_t>(p) + n) & ~(ps - 1);       // end of the last one
  if (e > a) madvise(reinterpret_cast<void*>(a), e - a, MADV_DONTNEED);
}

}  // namespace cook::io
