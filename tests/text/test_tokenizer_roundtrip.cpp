// decode(encode(s)) == s for any bytes, and encode(decode(ids)) == ids for ids that came from
// encode: random bytes, UTF-8 of many scripts, whitespace runs, very long words; plus encode from
// several threads at once.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer_test_util.h"

namespace cook::text {
namespace {

using tok_test::gpt2;

void expect_round_trip(const std::string& s) {
  const std::vector<int32_t> ids = gpt2().encode(s);
  ASSERT_EQ(gpt2().decode(ids), s) << "text of " << s.size() << " bytes";
  ASSERT_EQ(gpt2().encode(gpt2().decode(ids)), ids);
  for (int32_t id : ids) {
    ASSERT_GE(id, 0);
    ASSERT_LT(id, gpt2().end_of_text_id());  // encode never makes <|endoftext|>
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

TEST(TokenizerRoundTrip, RandomBytes) {
  std::mt19937 rng(42);
  for (int round = 0; round < 3000; ++round) {
    std::string s(rng() % 200, '\0');
    for (char& c : s) c = char(rng() % 256);
    expect_round_trip(s);
  }
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(char(b));
  expect_round_trip(all_bytes);
  expect_round_trip(std::string("\0\0\0", 3));
}

TEST(TokenizerRoundTrip, ManyScripts) {
  const std::vector<std::string> samples = {
      "The quick brown fox jumps over the lazy dog.",
      "Ελληνικά: Η γρήγορη καφέ αλεπού.",
      "Русский: Съешь же ещё этих мягких французских булок.",
      "עברית: דג סקרן שט בים מאוכזב",
      "العربية: نص حكيم له سر قاطع وذو شأن عظيم",
      "हिन्दी: ऋषियों को सताने वाले दुष्ट राक्षसों",
      "ไทย: เป็นมนุษย์สุดประเสริฐเลิศคุณค่า",
      "中文：我想在apple工作1314151天～",
      "日本語：いろはにほへと ちりぬるを",
      "한국어: 다람쥐 헌 쳇바퀴에 타고파",
      "ქართული ენა, Հայերեն, አማርኛ, ᏣᎳᎩ, ᠮᠣᠩᠭᠣᠯ",
      "Emoji: 🚀 😶‍🌫️ 👨‍👩‍👧‍👦 🇺🇸 ✅ 🦙🦙",
      "Math: 𝐀𝐁𝐂 ∀x∈ℝ: x² ≥ 0, ½ ⅓ Ⅻ",
      "Combining: e\xCC\x81 a\xCC\x8A o\xCC\x88\xCC\x81",
      "Zero width: a\u200Bb\u200Dc\uFEFFd",
  };
  for (const std::string& s : samples) expect_round_trip(s);
  // Random valid code points from every plane (surrogates skipped).
  std::mt19937 rng(3);
  for (int round = 0; round < 1000; ++round) {
    std::string s;
    for (int k = 0, n = int(rng() % 40); k < n; ++k) {
      char32_t c;
      switch (rng() % 4) {
        case 0: c = char32_t(rng() % 0x80); break;
        case 1: c = char32_t(rng() % 0x800); break;
        case 2: c = char32_t(rng() % 0x10000); break;
        default: c = char32_t(rng() % 0x110000); break;
      }
      if (c >= 0xD800 && c <= 0xDFFF) c = 'x';
      append_utf8(c, &s);
    }
    expect_round_trip(s);
  }
}

TEST(TokenizerRoundTrip, WhitespaceRuns) {
  const std::vector<std::string> spaces = {" ", "\t", "\n", "\r", "\v", "\f", "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\xA8"};
  std::mt19937 rng(5);
  for (int round = 0; round < 1000; ++round) {
    std::string s;
    for (int k = 0, n = int(rng() % 30); k < n; ++k) {
      const unsigned r = rng() % 10;
      s += r < 7 ? spaces[rng() % spaces.size()] : r == 7 ? "word" : r == 8 ? "42" : "!?";
    }
    expect_round_trip(s);
  }
  expect_round_trip(std::string(10000, ' '));
  expect_round_trip(std::string(5000, '\n') + "x");
  // A run of n spaces before a word: the word takes the last space (" b" is one token).
  std::vector<int32_t> ids = gpt2().encode("a    b");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(gpt2().decode({ids.back()}), " b");
  ids.pop_back();
  EXPECT_EQ(gpt2().decode(ids), "a   ");
}

TEST(TokenizerRoundTrip, LongWordsStayFast) {
  // One pre-token of 100 kB (a run of digits, of dashes, of letters): the heap merge loop keeps
  // this O(n log n).
  std::mt19937 rng(11);
  std::string digits, letters;
  for (int i = 0; i < 100000; ++i) digits += char('0' + rng() % 10);
  for (int i = 0; i < 100000; ++i) letters += char('a' + rng() % 26);
  const auto start = std::chrono::steady_clock::now();
  expect_round_trip(digits);
  expect_round_trip(std::string(100000, '-'));
  expect_round_trip(letters);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 10.0);  // a quadratic loop would take minutes
}

TEST(TokenizerRoundTrip, EncodeIsThreadSafe) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "Fellow citizens, the state of the Union is strong; " + std::to_string(i) + "\n";
  const std::vector<int32_t> expected = gpt2().encode(text);
  std::vector<std::vector<int32_t>> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 3; ++k) results[t] = gpt2().encode(text);
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, expected);
}

}  // namespace
}  // namespace cook::text
