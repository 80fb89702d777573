// Bytes that are not UTF-8 in a vocab.bpe line (a corrupt or binary file) are named in the error,
// not turned into nlohmann::json's own type_error while the message is written. Found by
// fuzz_tokenizer.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../common/temp_dir.h"
#include "cook/core/error.h"
#include "cook/text/byte_level.h"
#include "cook/text/tokenizer.h"

namespace cook::text {
namespace {

std::string load_error(const std::string& dir) {
  try {
    Tokenizer::from_dir(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no cook::Error)";
}

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// Every byte token and <|endoftext|>: a vocabulary the merges below can be checked against.
std::string byte_vocabulary() {
  nlohmann::json j = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) j[bytes_to_spelling(std::string(1, char(b)))] = b;
  j["<|endoftext|>"] = 256;
  return j.dump();
}

TEST(TokenizerInvalidUtf8, MergeSymbolNotInTheVocabulary) {
  test::TempDir dir("cook-tok-utf8");
  write(dir / "encoder.json", byte_vocabulary());
  write(dir / "vocab.bpe", "#version: 0.2\n\x8e\xff x\n");
  const std::string e = load_error(dir.path());
  EXPECT_NE(e.find("vocab.bpe:2"), std::string::npos) << e;
  EXPECT_NE(e.find("is not in the vocabulary"), std::string::npos) << e;
}

TEST(TokenizerInvalidUtf8, MalformedMergeLine) {
  test::TempDir dir("cook-tok-utf8");
  write(dir / "encoder.json", byte_vocabulary());
  write(dir / "vocab.bpe", "#version: 0.2\n\x8e\xff\n");
  const std::string e = load_error(dir.path());
  EXPECT_NE(e.find("vocab.bpe:2"), std::string::npos) << e;
  EXPECT_NE(e.find("expected a merge"), std::string::npos) << e;
}

}  // namespace
}  // namespace cook::text
