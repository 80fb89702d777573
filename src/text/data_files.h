// Internal helpers of the token-data code (not installed): SHA-256 and whole-file reading.
// Atomic writes go through cook/io/atomic_file.h.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cook::text::detail {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  std::array<uint8_t, 32> digest();  // finishes; the object must not be updated afterwards
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view data);

// The whole of a file; an Error naming it when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace cook::text::detail
