// Shared helpers of the tokenizer tests: the GPT-2 tokenizer loaded once per test program, file
// reading and writing, a temporary folder, and running a command to capture its output.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "../common/run_command.h"
#include "../common/temp_dir.h"
#include "cook/core/paths.h"
#include "cook/text/tokenizer.h"

namespace cook::text::tok_test {

namespace fs = std::filesystem;

// The GPT-2 tokenizer from cook::default_tokenizer_dir(), loaded on first use.
inline const Tokenizer& gpt2() {
  static const Tokenizer tokenizer = Tokenizer::from_dir(cook::default_tokenizer_dir());
  return tokenizer;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out.good()) throw std::runtime_error("cannot write " + path);
}

class TempDir : public cook::test::TempDir {
 public:
  TempDir() : cook::test::TempDir("cook-tokenizer") {}
};

// Runs `command` with /bin/sh, returns its stdout; *status gets the exit status (or -1).
inline std::string run_command(const std::string& command, int* status) {
  cook::test::CommandResult r = cook::test::run_command(command, cook::test::Capture::StdoutOnly);
  *status = r.status;
  return r.output;
}

// Single-quotes `s` for /bin/sh.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

// The ids of a line of space-separated integers.
inline std::vector<int32_t> parse_id_line(const std::string& line) {
  std::vector<int32_t> ids;
  std::istringstream in(line);
  long long v;
  while (in >> v) ids.push_back(int32_t(v));
  return ids;
}

}  // namespace cook::text::tok_test
