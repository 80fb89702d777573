#include "cook/io/zip.h"

#include <limits>

#include "cook/core/error.h"
#include "cook/io/safetensors.h"

namespace cook::io {

namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfCentralDir = 0x06054b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kZip64EndOfCentralDir = 0x06064b50;

class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size, const std::string& where) : data_(data), size_(size), where_(where) {}

  bool fits(uint64_t offset, uint64_t n) const { return offset <= size_ && n <= size_ - offset; }
  void need(uint64_t offset, uint64_t n, const std::string& what) const {
    if (!fits(offset, n))
      throw Error(where_, what + " runs past the end of the file (" + std::to_string(size_) + " bytes; truncated?)");
  }
  uint16_t u16(uint64_t at) const { return static_cast<uint16_t>(data_[at] | data_[at + 1] << 8); }
  uint32_t u32(uint64_t at) const {
    return static_cast<uint32_t>(data_[at]) | static_cast<uint32_t>(data_[at + 1]) << 8 |
           static_cast<uint32_t>(data_[at + 2]) << 16 | static_cast<uint32_t>(data_[at + 3]) << 24;
  }
  uint64_t u64(uint64_t at) const { return static_cast<uint64_t>(u32(at)) | static_cast<uint64_t>(u32(at + 4)) << 32; }
  size_t size() const { return size_; }
  const uint8_t* data() const { return data_; }

 private:
  const uint8_t* data_;
  size_t size_;
  const std::string& where_;
};

}  // namespace

ZipArchive ZipArchive::parse(const uint8_t* data, size_t size, const std::string& where) {
  ZipArchive z;
  z.where_ = where;
  z.base_ = data;
  Bytes b(data, size, where);
  if (size < 22) throw Error(where, "not a zip archive (" + std::to_string(size) + " bytes, too short; truncated?)");

  // The end-of-central-directory record: the last 22 bytes, or earlier by a comment of up to 64 KiB.
  uint64_t eocd = std::numeric_limits<uint64_t>::max();
  const uint64_t lowest = size >= 22 + 65535 ? size - 22 - 65535 : 0;
  for (uint64_t at = size - 22 + 1; at-- > lowest;) {
    if (b.u32(at) == kEndOfCentralDir && at + 22 + b.u16(at + 20) == size) {
      eocd = at;
      break;
    }
  }
  if (eocd == std::numeric_limits<uint64_t>::max())
    throw Error(where, "not a zip archive (no end-of-central-directory record; truncated?)");
  uint64_t count = b.u16(eocd + 10);
  uint64_t cd_size = b.u32(eocd + 12);
  uint64_t cd_offset = b.u32(eocd + 16);
  if (b.u16(eocd + 4) != 0 || b.u16(eocd + 6) != 0) throw Error(where, "a multi-part zip archive is not supported");
  if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu) {
    if (eocd < 20 || b.u32(eocd - 20) != kZip64Locator) throw Error(where, "zip64 sizes without a zip64 locator");
    uint64_t z64 = b.u64(eocd - 20 + 8);
    b.need(z64, 56, "zip64 end-of-central-directory record");
    if (b.u32(z64) != kZip64EndOfCentralDir) throw Error(where, "zip64 locator does not point at a zip64 record");
    count = b.u64(z64 + 32);
    cd_size = b.u64(z64 + 40);
    cd_offset = b.u64(z64 + 48);
  }
  b.need(cd_offset, cd_size, "central directory");
  if (count > cd_size / 46) throw Error(where, "central directory claims " + std::to_string(count) + " entries in " +
                                                    std::to_string(cd_size) + " bytes");

  z.entries_.reserve(static_cast<size_t>(count));
  uint64_t at = cd_offset;
  const uint64_t cd_end = cd_offset + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    if (at > cd_end || cd_end - at < 46 || b.u32(at) != kCentralHeader)
      throw Error(where, "central directory entry " + std::to_string(i) + " is malformed");
    const uint16_t method = b.u16(at + 10);
    uint64_t csize = b.u32(at + 20);
    uint64_t usize = b.u32(at + 24);
    const uint16_t name_len = b.u16(at + 28), extra_len = b.u16(at + 30), comment_len = b.u16(at + 32);
    uint64_t local = b.u32(at + 42);
    if (cd_end - at - 46 < static_cast<uint64_t>(name_len) + extra_len + comment_len)
      throw Error(where, "central directory entry " + std::to_string(i) + " runs past the directory");
    Entry e;
    e.name.assign(reinterpret_cast<const char*>(data + at + 46), name_len);
    const std::string what = "entry '" + printable(e.name) + "'";
    // The zip64 extra field holds, in this order, the fields that are 0xFFFFFFFF above.
    for (uint64_t x = at + 46 + name_len, xe = x + extra_len; x + 4 <= xe;) {
      const uint16_t id = b.u16(x), len = b.u16(x + 2);
      if (x + 4 + len > xe) throw Error(where, what + ": extra field runs past its entry");
      if (id == 0x0001) {
        uint64_t p = x + 4, pe = p + len;
        auto take = [&](uint64_t& field) {
          if (field != 0xFFFFFFFFu) return;
          if (p + 8 > pe) throw Error(where, what + ": zip64 extra field too short");
          field = b.u64(p);
          p += 8;
        };
        take(usize);
        take(csize);
        take(local);
      }
      x += 4 + len;
    }
    if (method != 0)
      throw Error(where, what + ": compressed (method " + std::to_string(method) +
                             "); torch.save writes entries stored, uncompressed");
    if (csize != usize) throw Error(where, what + ": stored sizes disagree");
    b.need(local, 30, what + ": local header");
    if (b.u32(local) != kLocalHeader) throw Error(where, what + ": no local header where the directory says");
    e.offset = local + 30 + b.u16(local + 26) + b.u16(local + 28);
    e.size = usize;
    b.need(e.offset, e.size, what);
    if (!z.index_.emplace(e.name, z.entries_.size()).second) throw Error(where, what + " appears twice");
    z.entries_.push_back(std::move(e));
    at += 46 + static_cast<uint64_t>(name_len) + extra_len + comment_len;
  }
  return z;
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

}  // namespace cook::io
