// Loading: a Hugging Face tokenizer.json with the same vocabulary and merges (as "a b" strings or
// ["a", "b"] pairs) gives the same tokenizer and fingerprint as encoder.json + vocab.bpe; and every
// malformed input fails with a cook::Error naming the file and the line or field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cook/core/error.h"
#include "cook/core/paths.h"
#include "tokenizer_test_util.h"

namespace cook::text {
namespace {

using json = nlohmann::json;
using tok_test::gpt2;
using tok_test::read_file;
using tok_test::TempDir;
using tok_test::write_file;

std::string encoder_path() { return cook::default_tokenizer_dir() + "/encoder.json"; }
std::string merges_path() { return cook::default_tokenizer_dir() + "/vocab.bpe"; }

// vocab.bpe's merges as "left right" strings, header and final newline dropped.
std::vector<std::string> merge_lines() {
  const std::string text = read_file(merges_path());
  std::vector<std::string> lines;
  std::size_t start = text.find('\n') + 1;  // skip "#version: 0.2"
  for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  return lines;
}

// HF's layout: {"model": {"type": "BPE", "vocab": {...}, "merges": [...]}, "added_tokens": [...]}.
json hf_tokenizer_json(bool merges_as_pairs) {
  json merges = json::array();
  for (const std::string& line : merge_lines()) {
    const std::size_t space = line.find(' ');
    if (merges_as_pairs) merges.push_back({line.substr(0, space), line.substr(space + 1)});
    else merges.push_back(line);
  }
  json j;
  j["version"] = "1.0";
  j["added_tokens"] = json::array({{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}});
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}};
  j["model"] = {{"type", "BPE"}, {"vocab", json::parse(read_file(encoder_path()))}, {"merges", merges}};
  return j;
}

const std::vector<std::string>& sample_texts() {
  static const std::vector<std::string> texts = {
      "Hello world", " The State of the Union is strong.\n\n  Thank you!", "I've 12,345 cats' toys; 日本語 🚀",
      std::string("\xFF\xFE raw bytes \x80", 17)};
  return texts;
}

TEST(TokenizerFiles, HfJsonWithStringMergesEqualsGpt2Files) {
  TempDir dir;
  write_file(dir / "tokenizer.json", hf_tokenizer_json(false).dump());
  const Tokenizer hf = Tokenizer::from_hf_json(dir / "tokenizer.json");
  EXPECT_EQ(hf.vocab_size(), 50257);
  EXPECT_EQ(hf.end_of_text_id(), 50256);
  EXPECT_EQ(hf.fingerprint(), gpt2().fingerprint());
  for (const std::string& t : sample_texts()) EXPECT_EQ(hf.encode(t), gpt2().encode(t)) << t;
  // from_dir finds a lone tokenizer.json too.
  EXPECT_EQ(Tokenizer::from_dir(dir.path()).fingerprint(), gpt2().fingerprint());
}

TEST(TokenizerFiles, HfJsonWithPairMergesEqualsGpt2Files) {
  TempDir dir;
  write_file(dir / "tokenizer.json", hf_tokenizer_json(true).dump());
  const Tokenizer hf = Tokenizer::from_hf_json(dir / "tokenizer.json");
  EXPECT_EQ(hf.fingerprint(), gpt2().fingerprint());
  for (const std::string& t : sample_texts()) EXPECT_EQ(hf.encode(t), gpt2().encode(t)) << t;
}

TEST(TokenizerFiles, FromFilesEqualsFromDirAndFingerprintIsStable) {
  const Tokenizer t = Tokenizer::from_files(encoder_path(), merges_path());
  EXPECT_EQ(t.fingerprint(), gpt2().fingerprint());
  // FNV-1a 64 of Cook's canonical serialization of GPT-2's vocabulary and merges; a change here
  // invalidates every token-data manifest.
  EXPECT_EQ(t.fingerprint(), "7c82c92b8b9b98e4");
}

TEST(TokenizerFiles, FingerprintDependsOnMerges) {
  TempDir dir;
  std::string merges = read_file(merges_path());
  merges.erase(merges.rfind('\n', merges.size() - 2) + 1);  // drop the last merge
  write_file(dir / "vocab.bpe", merges);
  const Tokenizer fewer = Tokenizer::from_files(encoder_path(), dir / "vocab.bpe");
  EXPECT_NE(fewer.fingerprint(), gpt2().fingerprint());
}

// Runs `load`, expects a cook::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F load, const std::vector<std::string>& parts) {
  try {
    load();
    ADD_FAILURE() << "no error thrown; expected one mentioning " << parts.front();
  } catch (const cook::Error& e) {
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\n  lacks: " << p;
  }
}

TEST(TokenizerFiles, MissingFilesNameThePath) {
  TempDir dir;
  expect_error([&] { Tokenizer::from_files(dir / "nope.json", merges_path()); }, {dir / "nope.json", "cannot open"});
  expect_error([&] { Tokenizer::from_files(encoder_path(), dir / "nope.bpe"); }, {dir / "nope.bpe", "cannot open"});
  expect_error([&] { Tokenizer::from_hf_json(dir / "tokenizer.json"); }, {dir / "tokenizer.json"});
  expect_error([&] { Tokenizer::from_dir(dir.path()); }, {dir.path(), "encoder.json"});
}

TEST(TokenizerFiles, MalformedJsonNamesFileAndLine) {
  TempDir dir;
  write_file(dir / "encoder.json", "{\"a\": 0,\n \"b\": 1,\n \"c\" 2}\n");
  expect_error([&] { Tokenizer::from_files(dir / "encoder.json", merges_path()); },
               {dir / "encoder.json", "malformed JSON", "line 3"});
  write_file(dir / "tokenizer.json", "{\"model\": [1, 2,");
  expect_error([&] { Tokenizer::from_hf_json(dir / "tokenizer.json"); }, {dir / "tokenizer.json", "malformed JSON"});
}

TEST(TokenizerFiles, BadEncoderEntriesNameTheToken) {
  TempDir dir;
  json enc = json::parse(read_file(encoder_path()));
  enc["hello"] = "seven";
  write_file(dir / "encoder.json", enc.dump());
  expect_error([&] { Tokenizer::from_files(dir / "encoder.json", merges_path()); },
               {dir / "encoder.json", "\"hello\"", "must be an integer"});

  enc = json::parse(read_file(encoder_path()));
  enc.erase("Ġthe");  // id 262: leaves a gap
  write_file(dir / "encoder.json", enc.dump());
  expect_error([&] { Tokenizer::from_files(dir / "encoder.json", merges_path()); },
               {dir / "encoder.json", "no token has id 262"});

  enc = json::parse(read_file(encoder_path()));
  enc["Ġthe"] = 263;  // two tokens with one id
  write_file(dir / "encoder.json", enc.dump());
  expect_error([&] { Tokenizer::from_files(dir / "encoder.json", merges_path()); }, {dir / "encoder.json", "id 263"});

  enc = json::parse(read_file(encoder_path()));
  enc.erase("<|endoftext|>");
  write_file(dir / "encoder.json", enc.dump());
  expect_error([&] { Tokenizer::from_files(dir / "encoder.json", merges_path()); }, {dir / "encoder.json", "<|endoftext|>"});

  enc = json::parse(read_file(encoder_path()));
  enc.erase("<|endoftext|>");
  enc["<|endoftext|>\n"] = 50256;  // a raw newline is not in the byte-level alphabet
  write_file(dir / "encoder.json", enc.dump());
  expect_error([&] { Tokenizer::from_files(dir / "encoder.json", merges_path()); },
               {dir / "encoder.json", "id 50256", "byte-level alphabet"});

  write_file(dir / "encoder.json", "[1, 2]");
  expect_error([&] { Tokenizer::from_files(dir / "encoder.json", merges_path()); }, {dir / "encoder.json", "expected an object"});
}

TEST(TokenizerFiles, BadMergesLineNamesFileAndLine) {
  TempDir dir;
  std::vector<std::string> lines = merge_lines();
  auto write_merges = [&](const std::vector<std::string>& ls) {
    std::string text = "#version: 0.2\n";
    for (const std::string& l : ls) text += l + "\n";
    write_file(dir / "vocab.bpe", text);
  };
  std::vector<std::string> bad = lines;
  bad[3] = "Ġ t h";  // line 5 of the file (after the header)
  write_merges(bad);
  expect_error([&] { Tokenizer::from_files(encoder_path(), dir / "vocab.bpe"); }, {dir / "vocab.bpe" + ":5:", "two symbols"});

  bad = lines;
  bad[9] = "";  // an empty line in the middle
  write_merges(bad);
  expect_error([&] { Tokenizer::from_files(encoder_path(), dir / "vocab.bpe"); }, {dir / "vocab.bpe" + ":11:"});

  bad = lines;
  bad[0] = "Ġ qqqzzz";
  write_merges(bad);
  expect_error([&] { Tokenizer::from_files(encoder_path(), dir / "vocab.bpe"); },
               {dir / "vocab.bpe" + ":2:", "\"qqqzzz\" is not in the vocabulary"});

  bad = lines;
  bad[1] = "h Ġ";  // both symbols exist, "hĠ" does not
  write_merges(bad);
  expect_error([&] { Tokenizer::from_files(encoder_path(), dir / "vocab.bpe"); },
               {dir / "vocab.bpe" + ":3:", "merge result \"hĠ\""});

  // Trailing blank lines and CRLF line ends are fine.
  std::string crlf = "#version: 0.2\r\n";
  for (const std::string& l : lines) crlf += l + "\r\n";
  write_file(dir / "vocab.bpe", crlf + "\r\n\n");
  EXPECT_EQ(Tokenizer::from_files(encoder_path(), dir / "vocab.bpe").fingerprint(), gpt2().fingerprint());
}

TEST(TokenizerFiles, BadHfJsonNamesTheField) {
  TempDir dir;
  const std::string path = dir / "tokenizer.json";
  json j = hf_tokenizer_json(false);
  j["model"]["merges"][3] = "Ġt";
  write_file(path, j.dump());
  expect_error([&] { Tokenizer::from_hf_json(path); }, {path, "model.merges[3]"});

  j = hf_tokenizer_json(true);
  j["model"]["merges"][7] = json::array({"a", 5});
  write_file(path, j.dump());
  expect_error([&] { Tokenizer::from_hf_json(path); }, {path, "model.merges[7]"});

  j = hf_tokenizer_json(true);
  j["model"]["merges"][2] = json::array({"Ġ", "zzzqqq"});
  write_file(path, j.dump());
  expect_error([&] { Tokenizer::from_hf_json(path); }, {path, "model.merges[2]", "\"zzzqqq\""});

  j = hf_tokenizer_json(false);
  j["model"]["type"] = "WordPiece";
  write_file(path, j.dump());
  expect_error([&] { Tokenizer::from_hf_json(path); }, {path, "model.type", "WordPiece"});

  j = hf_tokenizer_json(false);
  j["model"].erase("vocab");
  write_file(path, j.dump());
  expect_error([&] { Tokenizer::from_hf_json(path); }, {path, "model.vocab", "missing"});

  j = hf_tokenizer_json(false);
  j.erase("model");
  write_file(path, j.dump());
  expect_error([&] { Tokenizer::from_hf_json(path); }, {path, "'model'", "missing"});

  j = hf_tokenizer_json(false);
  j["added_tokens"][0]["content"] = "<|other|>";  // id 50256 given to two tokens
  write_file(path, j.dump());
  expect_error([&] { Tokenizer::from_hf_json(path); }, {path, "added_tokens[0]", "id 50256"});
}

TEST(TokenizerFiles, DecodeRejectsIdsOutOfRange) {
  expect_error([] { gpt2().decode({1, 50257}); }, {"50257", "out of range"});
  expect_error([] { gpt2().decode({-1}); }, {"-1", "out of range"});
}

}  // namespace
}  // namespace cook::text
