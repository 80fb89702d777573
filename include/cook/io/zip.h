// A read-only view of a zip archive whose entries are stored uncompressed, as torch.save writes
// them (PyTorch ≥ 1.6; zip64 when the file passes 4 GiB). Each entry's bytes are a span of the
// archive itself, so a memory-mapped archive is read without copying. Everything is bounds-checked;
// errors are cook::Error naming the archive and, where there is one, the entry.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace cook::io {

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    uint64_t offset = 0;  // of the entry's data, from the start of the archive
    uint64_t size = 0;
  };

  // Parses the central directory of the `size` bytes at `data` (kept alive by the caller).
  static ZipArchive parse(const uint8_t* data, size_t size, const std::string& where);

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;
  const uint8_t* data(const Entry& e) const { return base_ + e.offset; }
  const std::string& where() const { return where_; }

 private:
  std::string where_;
  const uint8_t* base_ = nullptr;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace cook::io
