// The GPT-2 pre-tokenizer: hand-checked splits, invalid UTF-8, and agreement with the regex of
// gpt-3-encoder's Encoder.js (run by node) on thousands of random strings and byte strings.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "cook/core/paths.h"
#include "cook/text/pretokenize.h"
#include "tokenizer_test_util.h"

namespace cook::text {
namespace {

using tok_test::run_command;
using tok_test::shell_quote;
using Pieces = std::vector<std::string>;

Pieces split(const std::string& text) {
  Pieces out;
  for (std::string_view p : pretokenize(text)) out.emplace_back(p);
  return out;
}

TEST(TokenizerPreTokenize, Words) {
  EXPECT_EQ(split(""), Pieces{});
  EXPECT_EQ(split("Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(split(" Hello"), (Pieces{" Hello"}));
  EXPECT_EQ(split("3.14 apples, 12abc"), (Pieces{"3", ".", "14", " apples", ",", " 12", "abc"}));
  EXPECT_EQ(split(" !!! ?"), (Pieces{" !!!", " ?"}));
  EXPECT_EQ(split("naïve café"), (Pieces{"naïve", " café"}));
  EXPECT_EQ(split("日本語のテキスト"), (Pieces{"日本語のテキスト"}));
  EXPECT_EQ(split("e\xCC\x81t\xC3\xA9"), (Pieces{"e", "\xCC\x81", "t\xC3\xA9"}));  // combining mark is "other"
  EXPECT_EQ(split("x²+Ⅻ"), (Pieces{"x", "²", "+", "Ⅻ"}));
  EXPECT_EQ(split("a 😀😀 b"), (Pieces{"a", " 😀😀", " b"}));
}

TEST(TokenizerPreTokenize, Contractions) {
  EXPECT_EQ(split("I've don't we'll he'd you're I'm it's"),
            (Pieces{"I", "'ve", " don", "'t", " we", "'ll", " he", "'d", " you", "'re", " I", "'m", " it", "'s"}));
  EXPECT_EQ(split("'S 'LL"), (Pieces{"'", "S", " '", "LL"}));  // case-sensitive
  EXPECT_EQ(split("'sound"), (Pieces{"'s", "ound"}));
  EXPECT_EQ(split("''s"), (Pieces{"''", "s"}));  // a run of "other" takes the apostrophes first
  EXPECT_EQ(split("'"), (Pieces{"'"}));
  EXPECT_EQ(split("'r"), (Pieces{"'", "r"}));
}

TEST(TokenizerPreTokenize, Whitespace) {
  EXPECT_EQ(split("a  b"), (Pieces{"a", " ", " b"}));
  EXPECT_EQ(split("a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(split("a \n b"), (Pieces{"a", " \n", " b"}));
  EXPECT_EQ(split("a\n\nb"), (Pieces{"a", "\n", "\n", "b"}));
  EXPECT_EQ(split("a\nb"), (Pieces{"a", "\n", "b"}));
  EXPECT_EQ(split("a\t\tb"), (Pieces{"a", "\t", "\t", "b"}));
  EXPECT_EQ(split("x   "), (Pieces{"x", "   "}));
  EXPECT_EQ(split("   "), (Pieces{"   "}));
  EXPECT_EQ(split(" "), (Pieces{" "}));
  EXPECT_EQ(split("  1"), (Pieces{" ", " 1"}));
  EXPECT_EQ(split("a\xC2\xA0" "b"), (Pieces{"a", "\xC2\xA0", "b"}));                // NBSP is \s, not " "
  EXPECT_EQ(split("a\xC2\xA0\xC2\xA0" "b"), (Pieces{"a", "\xC2\xA0", "\xC2\xA0", "b"}));
  EXPECT_EQ(split("a \xE3\x80\x80" "b"), (Pieces{"a", " ", "\xE3\x80\x80", "b"}));  // ideographic space
  EXPECT_EQ(split("a\xC2\x85" "b"), (Pieces{"a", "\xC2\x85", "b"}));                // NEL is not \s in JS
}

TEST(TokenizerPreTokenize, InvalidUtf8IsClassedAsOther) {
  EXPECT_EQ(split("ab\xFF" "cd"), (Pieces{"ab", "\xFF", "cd"}));
  EXPECT_EQ(split(" \xFF\xFE!"), (Pieces{" \xFF\xFE!"}));
  EXPECT_EQ(split("a\xE2\x82"), (Pieces{"a", "\xE2\x82"}));             // truncated sequence
  EXPECT_EQ(split("\xE2\x82" "A"), (Pieces{"\xE2\x82", "A"}));          // ...followed by a letter
  EXPECT_EQ(split("\xC3" "A"), (Pieces{"\xC3", "A"}));                  // lead byte without continuation
  EXPECT_EQ(split("\xC0\xAF" "x"), (Pieces{"\xC0\xAF", "x"}));          // overlong '/'
  EXPECT_EQ(split("\xED\xA0\x80" "x"), (Pieces{"\xED\xA0\x80", "x"}));  // UTF-16 surrogate
  EXPECT_EQ(split("\xF4\x90\x80\x80"), (Pieces{"\xF4\x90\x80\x80"}));   // above U+10FFFF
  EXPECT_EQ(split("1\x80" "2"), (Pieces{"1", "\x80", "2"}));
  EXPECT_EQ(split("\x80 x"), (Pieces{"\x80", " x"}));
}

TEST(TokenizerPreTokenize, PiecesTileAnyBytes) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = char(rng() % 256);
    std::string joined;
    for (std::string_view p : pretokenize(s)) {
      ASSERT_FALSE(p.empty());
      joined += p;
    }
    ASSERT_EQ(joined, s);
  }
}

void append_utf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(char(c));
  } else if (c < 0x800) {
    out->push_back(char(0xC0 | (c >> 6)));
    out->push_back(char(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(char(0xE0 | (c >> 12)));
    out->push_back(char(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(char(0x80 | (c & 0x3F)));
  } else {
    out->push_back(char(0xF0 | (c >> 18)));
    out->push_back(char(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(char(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(char(0x80 | (c & 0x3F)));
  }
}

std::string base64(const std::string& bytes) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (unsigned char)bytes[i] << 16 | (unsigned char)bytes[i + 1] << 8 | (unsigned char)bytes[i + 2];
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (bytes.size() - i == 1) {
    const unsigned v = (unsigned char)bytes[i] << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (bytes.size() - i == 2) {
    const unsigned v = (unsigned char)bytes[i] << 16 | (unsigned char)bytes[i + 1] << 8;
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

// Random strings over the characters where the rules are subtle: spaces of all kinds, apostrophes
// and contraction letters, letters/numbers/marks/symbols of several scripts, astral characters,
// and (in some strings) ill-formed UTF-8.
std::vector<std::string> random_cases(int count) {
  const std::vector<char32_t> alphabet = {
      ' ', ' ', ' ', '\n', '\t', '\r', '\v', '\f', '\'', '\'', 's', 't', 'r', 'e', 'v', 'm', 'l', 'd', 'S', 'A', 'z',
      '0', '9', '.', ',', '!', '-', '_', 0x00, 0x1C, 0x85, 0xA0, 0xAD, 0xB2, 0xE9, 0x0301, 0x0661, 0x1680, 0x180E,
      0x2000, 0x200B, 0x200D, 0x2028, 0x2029, 0x202F, 0x205F, 0x2165, 0x3000, 0x4E2D, 0xAC00, 0xFEFF, 0xFFFD,
      0x10400, 0x1D400, 0x1F1E6, 0x1F600, 0x1F680, 0xE0001, 0x10FFFF};
  const std::vector<std::string> invalid = {"\x80", "\xFF", "\xC0", "\xC3", "\xE2\x82", "\xED\xA0\x80",
                                            "\xF4\x90\x80\x80", "\xF0\x9F\x98", "\xBF\xBF"};
  std::mt19937 rng(20240611);
  std::vector<std::string> cases;
  for (int i = 0; i < count; ++i) {
    const bool with_invalid = i % 3 == 0;
    std::string s;
    const int length = int(rng() % 24);
    for (int k = 0; k < length; ++k) {
      if (with_invalid && rng() % 6 == 0) {
        s += invalid[rng() % invalid.size()];
      } else {
        append_utf8(alphabet[rng() % alphabet.size()], &s);
      }
    }
    cases.push_back(s);
  }
  return cases;
}

TEST(TokenizerPreTokenize, AgreesWithEncoderJsRegex) {
  const std::string encoder_js = cook::data_dir() + "/npm/gpt-3-encoder_1.1.4/package/Encoder.js";
  ASSERT_TRUE(std::filesystem::exists(encoder_js)) << encoder_js << " missing: run scripts/setup.sh";
  std::vector<std::string> cases = random_cases(6000);
  const std::string golden = tok_test::read_file(std::string(COOK_TEST_DATA_DIR) + "/tokenizer/ggml-vocab-gpt-2.gguf.inp");
  cases.push_back(golden);
  nlohmann::json doc = nlohmann::json::array();
  for (const std::string& s : cases) {
    nlohmann::json pieces = nlohmann::json::array();
    for (std::string_view p : pretokenize(s)) pieces.push_back(base64(std::string(p)));
    doc.push_back({{"bytes", base64(s)}, {"pieces", pieces}});
  }
  tok_test::TempDir dir;
  tok_test::write_file(dir / "cases.json", doc.dump());
  int status = 0;
  const std::string out =
      run_command("node " + shell_quote(std::string(COOK_SOURCE_DIR) + "/tests/text/js_pretokenize.js") + " " +
                      shell_quote(encoder_js) + " " + shell_quote(dir / "cases.json"),
                  &status);
  ASSERT_EQ(status, 0) << "node failed (is it installed? run scripts/setup.sh)";
  std::size_t line_start = 0, failures = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::size_t eol = out.find('\n', line_start);
    ASSERT_NE(eol, std::string::npos) << "node printed " << i << " lines for " << cases.size() << " cases";
    const std::string line = out.substr(line_start, eol - line_start);
    line_start = eol + 1;
    if (line != "ok" && ++failures <= 10) {
      ADD_FAILURE() << "case " << i << " " << nlohmann::json(base64(cases[i])).dump() << ": Encoder.js splits it as "
                    << line << ", Cook as " << nlohmann::json(split(cases[i])).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }
  EXPECT_EQ(failures, 0u);
}

}  // namespace
}  // namespace cook::text
