// Helpers for the io tests: a temporary folder per test, raw file builders, error matchers.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>

#include "cook/core/error.h"
#include "../common/expect_error.h"
#include "../common/temp_dir.h"

namespace cook::io::testing {

// A fresh folder under $TMPDIR (or /tmp), removed with its contents at the end of the test.
// A fresh folder per test, removed at its end.
class TempDir : public cook::test::TempDir {
 public:
  TempDir() : cook::test::TempDir("cook-io-test") {}
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s;
}

// A safetensors file built by hand: the length prefix, `header` as given, then `data`.
inline std::string raw_safetensors(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

using cook::test::expect_error;

}  // namespace cook::io::testing
