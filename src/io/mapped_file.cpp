#include "cook/io/mapped_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "cook/core/error.h"
#include "cook/core/input_file.h"

namespace cook::io {

namespace {

size_t page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

// Reading a mapped page past the end of a file that shrank after it was mapped (a `cp` over a
// checkpoint while it is read) raises SIGBUS. The mappings alive are registered here, so that the
// handler can end the process with an error naming the file instead of a bare "Bus error". Signal
// handlers are process-wide, so this table is too; a slot is claimed with `used`, and `begin` is
// published last so the handler never sees a half-filled slot.
struct LiveMapping {
  std::atomic<bool> used{false};
  std::atomic<uintptr_t> begin{0}, end{0};
  std::atomic<const char*> path{nullptr};
};
constexpr size_t kTrackedMappings = 4096;  // beyond this, a mapping gets the default SIGBUS
LiveMapping g_live[kTrackedMappings];
struct sigaction g_previous_bus_action;

void write_stderr(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void on_bus_error(int signal_number, siginfo_t* info, void* context) {
  const auto address = reinterpret_cast<uintptr_t>(info->si_addr);
  for (const LiveMapping& m : g_live) {
    const uintptr_t begin = m.begin.load(std::memory_order_acquire);
    if (begin == 0 || address < begin || address >= m.end.load()) continue;
    char offset[32];
    int i = sizeof offset - 1;
    offset[i] = '\0';
    uintptr_t v = address - begin;
    do {
      offset[--i] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0 && i > 0);
    write_stderr("cook: error: ");
    write_stderr(m.path.load());
    write_stderr(": the file shrank or was overwritten while it was being read (bus error at byte ");
    write_stderr(offset + i);
    write_stderr("); nothing more was read from it. Let whatever rewrites it finish, then run again.\n");
    ::_exit(1);
  }
  const struct sigaction& previous = g_previous_bus_action;
  if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction != nullptr) {
    previous.sa_sigaction(signal_number, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(signal_number);
  } else {
    ::signal(SIGBUS, SIG_DFL);
    ::raise(SIGBUS);
  }
}

void install_bus_error_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = on_bus_error;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &g_previous_bus_action);
  });
}

LiveMapping* track_mapping(const uint8_t* data, size_t size, const std::string& path) {
  install_bus_error_handler();
  for (LiveMapping& m : g_live) {
    bool expected = false;
    if (!m.used.compare_exchange_strong(expected, true)) continue;
    m.path.store(path.c_str());
    m.end.store(reinterpret_cast<uintptr_t>(data) + size);
    m.begin.store(reinterpret_cast<uintptr_t>(data), std::memory_order_release);
    return &m;
  }
  return nullptr;
}

void untrack_mapping(LiveMapping* m) {
  if (m == nullptr) return;
  m->begin.store(0, std::memory_order_release);
  m->used.store(false);
}

}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  int fd = open_input_file(path);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw Error(path, std::string("cannot stat: ") + std::strerror(e));
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
    : path_(std::move(path)), data_(data), size_(size) {
  if (data_ != nullptr) live_ = track_mapping(data_, size_, path_);
}

MappedFile::~MappedFile() {
  untrack_mapping(static_cast<LiveMapping*>(live_));
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
