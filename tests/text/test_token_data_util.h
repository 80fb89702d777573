// Shared helpers of the token-data tests: a temporary folder, a byte-level stand-in encoder and a
// direct writer of token splits.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "../common/run_command.h"
#include "../common/temp_dir.h"
#include "cook/core/error.h"
#include "cook/text/corpus.h"
#include "cook/text/token_shards.h"

namespace cook::text::test_util {

namespace fs = std::filesystem;

class TempDir : public cook::test::TempDir {
 public:
  TempDir() : cook::test::TempDir("cook-token-data") {}
};

inline void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One id per byte (0..255), end-of-text 256: a tokenizer-free stand-in whose decoding is trivial.
inline TextEncoder byte_encoder(int64_t vocab_size = 257) {
  TextEncoder e;
  e.info.fingerprint = "test-bytes";
  e.info.vocab_size = vocab_size;
  e.info.end_of_text_id = 256;
  e.encode = [](std::string_view text) {
    std::vector<int32_t> ids;
    ids.reserve(text.size());
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  };
  return e;
}

inline std::string decode_bytes(const std::vector<int64_t>& ids) {
  std::string s;
  for (int64_t id : ids) s += id == 256 ? std::string(kEndOfTextMarker) : std::string(1, static_cast<char>(id));
  return s;
}

// Writes token data for the given documents of each split directly (no text), as prepare would.
inline TokenManifest write_splits(const std::string& dir,
                                  const std::vector<std::vector<int32_t>>& train_docs,
                                  const std::vector<std::vector<int32_t>>& valid_docs,
                                  int64_t shard_tokens, int64_t vocab_size = 1000) {
  TokenManifest m;
  m.tokenizer = {"test", vocab_size, vocab_size - 1};
  m.dtype = dtype_for_vocab(vocab_size);
  m.shard_tokens = shard_tokens;
  m.split_rule = "none";
  const std::pair<const char*, const std::vector<std::vector<int32_t>>*> splits[] = {
      {kTrainSplit, &train_docs}, {kValidationSplit, &valid_docs}};
  for (const auto& [name, docs] : splits) {
    ShardWriter w(dir, name, m.dtype, vocab_size, shard_tokens);
    for (const auto& d : *docs) w.add_document(d);
    m.splits[name] = w.finish();
  }
  m.save(dir);
  return m;
}

// Ids 0, 1, 2, ... (mod `mod`) in documents of the given lengths.
inline std::vector<std::vector<int32_t>> counting_docs(const std::vector<int>& lengths, int mod = 1000,
                                                       int first = 0) {
  std::vector<std::vector<int32_t>> docs;
  int next = first;
  for (int n : lengths) {
    std::vector<int32_t> d;
    for (int i = 0; i < n; ++i) d.push_back(next++ % mod);
    docs.push_back(d);
  }
  return docs;
}

inline ::testing::AssertionResult has_substr(const char* s_expr, const char* sub_expr, const std::string& s,
                                            const std::string& sub) {
  if (s.find(sub) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << s_expr << " = \"" << s << "\"\ndoes not contain " << sub_expr << " = \""
                                       << sub << "\"";
}
#define EXPECT_HAS(s, sub) EXPECT_PRED_FORMAT2(::cook::text::test_util::has_substr, s, sub)

// Runs a shell command; returns its stdout and stderr together, and its exit status in *status.
inline std::string run_command(const std::string& command, int* status) {
  cook::test::CommandResult r = cook::test::run_command(command);
  *status = r.status;
  return r.output;
}

inline std::string quoted(const std::string& s) { return cook::test::shell_quote(s); }

// The cook binary ($COOK_CLI, set by ctest, or <build>/cook), or "" when it is not built.
inline std::string cook_cli_path() {
  const char* env = std::getenv("COOK_CLI");
  if (env && fs::is_regular_file(env)) return env;
#ifdef COOK_BINARY_DIR
  const std::string guess = std::string(COOK_BINARY_DIR) + "/cook";
  if (fs::is_regular_file(guess)) return guess;
#endif
  return "";
}

// Runs `f` and returns the cook::Error message it throws ("" and a test failure if none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const cook::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a cook::Error: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

}  // namespace cook::text::test_util
