// llama.cpp's 46 golden GPT-2 tokenizations (models/ggml-vocab-gpt-2.gguf.inp/.out, copied into
// tests/data/tokenizer): every case must give exactly the recorded ids.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer_test_util.h"

namespace cook::text {
namespace {

using tok_test::gpt2;
using tok_test::parse_id_line;
using tok_test::read_file;

struct GoldenCase {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<GoldenCase> load_golden() {
  const std::string dir = std::string(COOK_TEST_DATA_DIR) + "/tokenizer/";
  const std::string inp = read_file(dir + "ggml-vocab-gpt-2.gguf.inp");
  const std::string out = read_file(dir + "ggml-vocab-gpt-2.gguf.out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  std::size_t start = 0;
  for (std::size_t pos; (pos = inp.find(sep, start)) != std::string::npos; start = pos + sep.size()) {
    texts.push_back(inp.substr(start, pos - start));
  }
  EXPECT_EQ(start, inp.size()) << "the .inp file should end with the separator";
  std::vector<GoldenCase> cases;
  std::size_t line_start = 0;
  for (const std::string& text : texts) {
    const std::size_t eol = out.find('\n', line_start);
    EXPECT_NE(eol, std::string::npos) << "fewer lines in .out than cases in .inp";
    if (eol == std::string::npos) break;
    cases.push_back({text, parse_id_line(out.substr(line_start, eol - line_start))});
    line_start = eol + 1;
  }
  EXPECT_EQ(line_start, out.size()) << "more lines in .out than cases in .inp";
  return cases;
}

TEST(TokenizerGolden, AllLlamaCppCasesMatch) {
  const std::vector<GoldenCase> cases = load_golden();
  ASSERT_EQ(cases.size(), 46u);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(gpt2().encode(cases[i].text), cases[i].ids) << "case " << i << ": \"" << cases[i].text << "\"";
    EXPECT_EQ(gpt2().decode(cases[i].ids), cases[i].text) << "case " << i;
  }
}

TEST(TokenizerGolden, VocabularyShape) {
  EXPECT_EQ(gpt2().vocab_size(), 50257);
  EXPECT_EQ(gpt2().end_of_text_id(), 50256);
  EXPECT_EQ(gpt2().decode({50256}), "<|endoftext|>");
  EXPECT_EQ(gpt2().fingerprint().size(), 16u);
  EXPECT_EQ(gpt2().fingerprint().find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(TokenizerGolden, KnownEncodings) {
  // Reference ids from OpenAI's GPT-2 encoder.
  EXPECT_EQ(gpt2().encode("Hello world"), (std::vector<int32_t>{15496, 995}));
  EXPECT_EQ(gpt2().encode(" Hello World!"), (std::vector<int32_t>{18435, 2159, 0}));
  EXPECT_EQ(gpt2().encode(""), std::vector<int32_t>{});
  // Special tokens are not parsed out of text: "<|endoftext|>" is encoded as ordinary characters.
  EXPECT_NE(gpt2().encode("<|endoftext|>"), std::vector<int32_t>{50256});
}

}  // namespace
}  // namespace cook::text
