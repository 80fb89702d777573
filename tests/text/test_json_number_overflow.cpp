// A JSON number that no C++ type holds (1e999) is not a syntax error to nlohmann::json but an
// out_of_range exception; every JSON file of the text layer must still fail with a cook::Error
// naming the file. Found by fuzz_token_data and fuzz_tokenizer.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>

#include "../common/temp_dir.h"
#include "cook/core/error.h"
#include "cook/text/token_shards.h"
#include "cook/text/tokenizer.h"

namespace cook::text {
namespace {

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no cook::Error)";
}

TEST(JsonNumberOverflow, TokenManifestNamesTheFile) {
  test::TempDir dir("cook-json-overflow");
  write(dir / kManifestFile, R"({"format": "cook.token_data", "format_version": 9e5966})");
  const std::string e = error_of([&] { TokenManifest::load(dir.path()); });
  EXPECT_NE(e.find("manifest.json: not valid JSON"), std::string::npos) << e;
}

TEST(JsonNumberOverflow, TokenizerFilesNameTheFile) {
  test::TempDir dir("cook-json-overflow");
  write(dir / "encoder.json", R"({"!": 1e999})");
  write(dir / "vocab.bpe", "#version: 0.2\n");
  const std::string e = error_of([&] { Tokenizer::from_dir(dir.path()); });
  EXPECT_NE(e.find("encoder.json: malformed JSON"), std::string::npos) << e;

  write(dir / "tokenizer.json", R"({"model": {"vocab": {"!": -1e999}}})");
  const std::string hf = error_of([&] { Tokenizer::from_hf_json(dir / "tokenizer.json"); });
  EXPECT_NE(hf.find("tokenizer.json: malformed JSON"), std::string::npos) << hf;
}

}  // namespace
}  // namespace cook::text
